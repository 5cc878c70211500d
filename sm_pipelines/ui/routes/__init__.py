"""The view's JSON API, one module per page: pipelines, executions (and the actions that start
or retry them), models, monitoring. Every route reads through sm_pipelines/ui's readers."""
