"""SageMaker's XGBoost built-in algorithm (a training job on its image with no script).

The job's process is `xgboost_main.py`, run with the image's interpreter (which needs the
`xgboost` package: the `local` extra brings it); its docstring holds the container contract it
keeps. The algorithm's metrics are what SageMaker derives from its log, one per channel and
evaluation metric (`train:rmse`, `validation:rmse`), each the last round's value, as
FinalMetricDataList reports them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sm_pipelines.local.images import ImageRuntime
from sm_pipelines.local.job import JobContext

PROGRAM = Path(__file__).with_name("xgboost_main.py")
_ROUND = re.compile(r"^\[\d+\]\t(.+)$", re.MULTILINE)


def command(ctx: JobContext, runtime: ImageRuntime) -> tuple[list[str], dict[str, str]]:
    """The job's command line and the variables it needs on this machine."""
    env = {} if ctx.namespace else {"SAGEMAKER_BASE_DIR": ctx.job_path("/opt/ml")}
    return [runtime.python, str(PROGRAM)], env


def final_metrics(log: str) -> list[dict[str, Any]]:
    """`[12]\ttrain-rmse:2.1\tvalidation-rmse:2.3` on the last round -> the metrics it names."""
    rounds = _ROUND.findall(log)
    if not rounds:
        return []
    metrics = []
    for item in rounds[-1].split("\t"):
        name, _, value = item.rpartition(":")
        channel, _, metric = name.partition("-")
        try:
            metrics.append({"MetricName": f"{channel}:{metric}", "Value": float(value)})
        except ValueError:
            continue
    return metrics
