"""One module per SageMaker step type the executor runs. Each has `prepare(raw, scope)` (the
evaluated request, which caching compares) and `run(ctx, request)` (the step's properties, or a
StepFailure). Which module runs which type is a column of
`sm_pipelines.config.step_kinds.STEP_KINDS`."""
