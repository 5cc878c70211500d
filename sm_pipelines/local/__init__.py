"""The Docker-free executor: runs a compiled SageMaker pipeline definition on this machine.

It honours the definition itself (parameters, expressions, property files, conditions, caching,
retries) and the job contracts, running each job's code in a subprocess under a per-step sandbox
instead of /opt/ml. `launch` starts and retries runs, `plan` turns a definition into what
`runner` schedules, and `steps/<type>.py` runs one SageMaker step type (the module each type
uses is a column of `config.step_kinds`). `job` is what job steps share (context, failure,
process); `state`, `execution`, `cache`, `registry`, `alerts` and `services` are the state folder,
its records, the step cache, the local model registry, alert delivery and the local stores.
"""
