"""The SageMaker job contract: where a job finds its inputs and leaves its outputs.

Paths are rooted at /opt/ml as in the containers; SM_ML_ROOT moves that root, which is how the
local executor and the tests run a component without a container.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def ml_root() -> Path:
    return Path(os.environ.get("SM_ML_ROOT", "/opt/ml"))


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
