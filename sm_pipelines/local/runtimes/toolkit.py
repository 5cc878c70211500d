"""Script-mode training through the sagemaker-training toolkit, as framework containers run it.

The job's process is `toolkit_main.py` (the toolkit's `train()`, with the three adaptations its
docstring names), started with the executor's interpreter, where the toolkit is installed (the
`local` extra); the user's program then runs with the image's interpreter. The toolkit leaves a
code folder that is already filled alone, so the executor stages `sagemaker_submit_directory`
into /opt/ml/code first, as the container would have downloaded it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sm_pipelines.local.images import ImageRuntime
from sm_pipelines.local.job import JobContext, StepFailure

LAUNCHER = Path(__file__).with_name("toolkit_main.py")


def command(ctx: JobContext, runtime: ImageRuntime) -> tuple[list[str], dict[str, str]]:
    """The job's command line and the variables the toolkit needs on this machine."""
    if importlib.util.find_spec("sagemaker_training") is None:
        raise StepFailure(
            "ClientError: script-mode training runs through the sagemaker-training toolkit, "
            "which this Python lacks: install the package's `local` extra "
            "(pip install -e '.[local]'; make setup does)"
        )
    env = {"SM_LOCAL_IMAGE_PYTHON": runtime.python}
    if not ctx.namespace:
        env["SAGEMAKER_BASE_DIR"] = ctx.job_path("/opt/ml")
    return [sys.executable, str(LAUNCHER)], env
