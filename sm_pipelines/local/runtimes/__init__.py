"""How a training job's image runs it locally: one module per runtime.

`remote_function` runs `@step` functions through the SDK's own remote-function runtime.
"""
