"""Import the SageMaker SDK with the cyclic garbage collector paused, then freeze what it built.

Importing `sagemaker` (2.257) creates tens of thousands of objects (sagemaker_core's pydantic
shapes, botocore models, pandas and scipy, which the package imports eagerly), and CPython's
collector walked the growing heap again and again meanwhile: `sm-pipelines build --check` (three
environments) took 3.6 s here with the collector running through the import and 2.2 s with it
paused and the result frozen (`gc.freeze()`: the SDK's modules and classes live as long as the
process, so later collections skip them). The output is the same bytes either way. The collector
is on again afterwards, so long-running commands collect their own garbage as usual.
"""

from __future__ import annotations

import gc
import sys

_SDK_MODULES = ("sagemaker.workflow.pipeline", "sagemaker.workflow.pipeline_context")


def load_sdk() -> None:
    """Import the SDK modules the compiler uses (once per process)."""
    if all(name in sys.modules for name in _SDK_MODULES):
        return
    import sm_pipelines.compile  # noqa: F401  (quiets the SDK's import-time chatter first)

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import sagemaker.workflow.pipeline
        import sagemaker.workflow.pipeline_context  # noqa: F401
    finally:
        if was_enabled:
            gc.enable()
    gc.freeze()
