"""The job contract, the one place both sides of the components boundary read it from.

Where a job finds its inputs and leaves its outputs: paths are rooted at /opt/ml as in the
containers; SM_ML_ROOT moves that root, which is how the local executor and the tests run a
component without a container. Which variables carry what (a secret as a `<NAME>_SECRET`
reference, the local state folder), and which inputs and outputs each job reads and writes:
`sm-pipelines validate` checks the YAML's step outputs against JOB_OUTPUTS.

This module imports nothing from the project, so `sm_pipelines` may import it; components never
import `sm_pipelines`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# A secret reaches a job as `<NAME>_SECRET` holding a reference (`secretsmanager:<id>[#key]` or
# `ssm:<name>`) that the job resolves with its own role; a value never enters a definition.
SECRET_SUFFIX = "_SECRET"
# Set by the local executor: the state folder where s3://<bucket>/<key> is s3/<bucket>/<key>.
STATE_VARIABLE = "SM_PIPELINES_LOCAL_STATE"
# Which environment a job runs in (`local`, `staging`, ...), set in every job's environment.
ENVIRONMENT_VARIABLE = "SM_PIPELINES_ENVIRONMENT"
ML_ROOT_VARIABLE = "SM_ML_ROOT"

# What each job reads and writes, by component: processing inputs (`processing_input(name)`) and
# training channels (`training_channel(name)`), and processing outputs (`processing_output(name)`).
# A step that runs one of these components must declare exactly these; a test holds each
# component's own calls to the same names.
JOB_INPUTS: dict[str, tuple[str, ...]] = {
    "etl": (),
    "features": (),
    "dataset": (),
    "train": ("train",),
    "evaluate": ("model", "test"),
    "deploy": (),
    "release": (),
    "monitor": (),
    "preferences": (),
}
# Inputs a job reads when the step gives them and does without otherwise: training's preference
# pairs (no channel: no preference stage), so a pipeline without a preferences step stays valid.
JOB_OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {
    "train": ("preferences",),
}
JOB_OUTPUTS: dict[str, tuple[str, ...]] = {
    "etl": ("snapshot",),
    "features": ("snapshot",),
    "dataset": ("train", "test"),
    "train": (),
    "evaluate": ("evaluation",),
    "deploy": (),
    "release": ("release",),
    "monitor": ("report",),
    "preferences": ("preferences",),
}


def ml_root() -> Path:
    return Path(os.environ.get(ML_ROOT_VARIABLE, "/opt/ml"))


def processing_input(name: str) -> Path:
    return ml_root() / "processing" / "input" / name


def processing_output(name: str) -> Path:
    path = ml_root() / "processing" / "output" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def training_channel(name: str) -> Path:
    return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}", ml_root() / "input" / "data" / name))


def model_dir() -> Path:
    path = Path(os.environ.get("SM_MODEL_DIR", ml_root() / "model"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def hyperparameters() -> dict[str, Any]:
    """Hyperparameters as SageMaker passes them: JSON-encoded strings in hyperparameters.json."""
    raw = os.environ.get("SM_HPS")
    if raw:
        return json.loads(raw)
    path = ml_root() / "input" / "config" / "hyperparameters.json"
    if not path.is_file():
        return {}
    decoded = {}
    for key, value in json.loads(path.read_text(encoding="utf-8")).items():
        try:
            decoded[key] = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            decoded[key] = value
    return decoded


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
