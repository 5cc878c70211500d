"""The Docker-free executor: runs a compiled SageMaker pipeline definition on this machine.

It honours the definition itself (parameters, expressions, property files, conditions, caching,
retries) and the job contracts (processing, training, registration, lambda), running each job's
code in a subprocess with the project's interpreter under a per-step sandbox instead of /opt/ml.
"""
