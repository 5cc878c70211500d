"""The local pipeline view (`sm-pipelines ui`): a FastAPI app on 127.0.0.1 that shows the
compiled pipelines, the executions of a state folder (live), the model registry and the
monitoring records, and starts runs, retries and approvals through the CLI's own commands."""
