"""One module per step kind, each building the SDK step for one YAML step (`build`). Which module
builds which kind is a column of `sm_pipelines.config.step_kinds.STEP_KINDS`."""
