"""Local endpoints: what the deploy job records under <state>/endpoints and the model server
reads. One JSON record per endpoint, shaped like DescribeEndpoint plus the model's local path:

  EndpointName, EndpointStatus ("InService"), EndpointConfigName, ModelPackageArn,
  ModelDataUrl, ModelPath, CreationTime, LastModifiedTime,
  ConfigHistory: [{EndpointConfigName, ModelPackageArn, ModelDataUrl, ModelPath, CreationTime}]
  (oldest first; the entry before the last is what a rollback returns to)
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from components.common.job import JobError

_NAME = re.compile(r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$")


def check_name(name: str) -> str:
    """SageMaker's endpoint-name rule, which also keeps the name safe as a file name."""
    if not _NAME.match(name or ""):
        raise JobError(
            f"endpoint name {name!r} is not valid: 1-63 letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


def folder(state: Path) -> Path:
    return state / "endpoints"


def record_path(state: Path, name: str) -> Path:
    return folder(state) / f"{check_name(name)}.json"


def read(state: Path, name: str) -> dict[str, Any] | None:
    path = record_path(state, name)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise JobError(f"endpoint record {path} is not JSON: {exc}") from None


def write(state: Path, record: dict[str, Any]) -> Path:
    """Replace the record in one step, so a reader sees the old or the new one, never half."""
    path = record_path(state, record["EndpointName"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)
    return path
