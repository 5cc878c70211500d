"""The local model registry: model package groups and their versions, as files.

`<state>/registry/<group>/<version>.json` holds what describe_model_package returns. A new
version takes the number after the highest ever used in the group (damaged files moved aside
count too) and is created exclusively, so no version is ever overwritten, even by two runs at
once; a damaged version file is moved aside with a warning, never read as a version.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sm_pipelines.config.naming import sagemaker_arn
from sm_pipelines.errors import UserError
from sm_pipelines.local.state import LocalState, quarantine, read_record, write_json_atomic

_lock = threading.Lock()
_VERSION_FILE = re.compile(r"^(\d+)\.json(\.damaged-.*)?$")
_REQUIRED = {"ModelPackageVersion": int, "ModelApprovalStatus": str, "ModelPackageArn": str}


def _valid(record: Any, number: int) -> str | None:
    """Why `record` is not version `number` of a group, or None."""
    if not isinstance(record, dict):
        return "not an object"
    for key, kind in _REQUIRED.items():
        if not isinstance(record.get(key), kind):
            return f"{key} is missing or not a {kind.__name__}"
    if record["ModelPackageVersion"] != number:
        return f"ModelPackageVersion {record['ModelPackageVersion']} in file {number}.json"
    return None


def versions(state: LocalState, group: str) -> list[dict[str, Any]]:
    found = []
    for path in (state.registry_dir / group).glob("*.json"):
        match = _VERSION_FILE.match(path.name)
        if not match:
            continue
        record = read_record(path)
        if record is None:
            continue
        problem = _valid(record, int(match.group(1)))
        if problem:
            quarantine(path, f"not a model package version ({problem})")
            continue
        found.append(record)
    return sorted(found, key=lambda v: v["ModelPackageVersion"])


def _highest(folder: Path) -> int:
    numbers = [
        int(match.group(1))
        for path in (folder.iterdir() if folder.is_dir() else [])
        if (match := _VERSION_FILE.match(path.name))
    ]
    return max(numbers, default=0)


def _create(path: Path, payload: dict[str, Any]) -> bool:
    """Create `path` with `payload`, complete or not at all, only if it does not exist yet
    (a hard link of a finished temporary file is atomic create-if-absent)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=str)
            handle.write("\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def groups(state: LocalState) -> list[str]:
    if not state.registry_dir.is_dir():
        return []
    return sorted(p.name for p in state.registry_dir.iterdir() if p.is_dir())


def register(
    state: LocalState, group: str, record: dict[str, Any], region: str, account: str
) -> dict:
    """Add the next version to `group`; returns the stored record with its ARN and version."""
    folder = state.registry_dir / group
    folder.mkdir(parents=True, exist_ok=True)
    with _lock:
        number = _highest(folder) + 1
        while True:
            stored = {
                **record,
                "ModelPackageGroupName": group,
                "ModelPackageVersion": number,
                "ModelPackageArn": sagemaker_arn(
                    region, account, "model-package", f"{group}/{number}"
                ),
                "CreationTime": datetime.now(UTC).isoformat(),
            }
            if _create(folder / f"{number}.json", stored):
                return stored
            number += 1  # another process took it a moment ago


def set_status(state: LocalState, group: str, version: int, status: str) -> dict[str, Any]:
    path = state.registry_dir / group / f"{version}.json"
    record = read_record(path) if path.is_file() else None
    if record is None or _valid(record, version):
        raise UserError(f"model package group {group} has no readable version {version} ({path})")
    record["ModelApprovalStatus"] = status
    write_json_atomic(path, record)
    return record


DECISIONS = ("Approved", "Rejected", "PendingManualApproval")


def decide(
    state: LocalState, group: str, version: int, status: str, by: str, reason: str | None
) -> dict[str, Any]:
    """A person's approval decision, as UpdateModelPackage records it (ModelApprovalStatus,
    ApprovalDescription, LastModifiedBy/Time), plus every decision so far in ApprovalHistory."""
    if status not in DECISIONS:
        raise UserError(f"approval status {status!r} is not one of {', '.join(DECISIONS)}")
    path = state.registry_dir / group / f"{version}.json"
    with _lock:
        record = read_record(path) if path.is_file() else None
        if record is None or _valid(record, version):
            known = ", ".join(str(v["ModelPackageVersion"]) for v in versions(state, group))
            raise UserError(
                f"model package group {group} has no version {version} "
                f"(versions: {known or 'none'}; groups: {', '.join(groups(state)) or 'none'})"
            )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        decision = {"status": status, "by": by, "time": now}
        if reason:
            decision["reason"] = reason
        record["ModelApprovalStatus"] = status
        record["LastModifiedTime"] = now
        record["LastModifiedBy"] = {"UserProfileName": by}
        if reason:
            record["ApprovalDescription"] = reason
        else:
            record.pop("ApprovalDescription", None)
        history = record.get("ApprovalHistory")
        record["ApprovalHistory"] = [*(history if isinstance(history, list) else []), decision]
        write_json_atomic(path, record)
    return record


def _decision(version: dict[str, Any]) -> str:
    """Who decided the version's status, when and why (the latest decision), or ''."""
    history = version.get("ApprovalHistory")
    if not isinstance(history, list) or not history or not isinstance(history[-1], dict):
        return ""
    last = history[-1]
    text = f"{last.get('status', '?')} by {last.get('by', '?')} at {last.get('time', '?')}"
    return text + (f": {last['reason']}" if last.get("reason") else "")


def _flat_metrics(report: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a metrics report, by dotted path."""
    found: dict[str, float] = {}
    if isinstance(report, dict):
        for key, value in report.items():
            found.update(_flat_metrics(value, f"{prefix}{key}."))
    elif isinstance(report, int | float) and not isinstance(report, bool):
        found[prefix.rstrip(".")] = float(report)
    return found


def version_metrics(version: dict[str, Any]) -> dict[str, float]:
    """A version's numeric metrics (every report of its ModelMetrics), by dotted path."""
    metrics: dict[str, float] = {}
    reports = version.get("Metrics")
    for report in reports.values() if isinstance(reports, dict) else []:
        metrics.update(_flat_metrics(report))
    return metrics


def models_table(state: LocalState) -> str:
    """Every group and version with status, age and its numeric metrics."""
    lines = []
    for group in groups(state):
        lines.append(f"{group}")
        for version in versions(state, group):
            metrics = version_metrics(version)
            # The version's own metrics before what its report says of others (the champion's).
            ordered = sorted(
                metrics.items(), key=lambda kv: (not kv[0].startswith("metrics."), kv[0])
            )
            shown = ", ".join(f"{k}={v:g}" for k, v in ordered[:8])
            metadata = version.get("CustomerMetadataProperties")
            if isinstance(metadata, dict) and metadata:
                shown += "  " + ", ".join(f"{k}={v}" for k, v in sorted(metadata.items()))
            if version.get("DriftCheckBaselines"):
                shown += "  drift-baselines"
            created = str(version.get("CreationTime", ""))[:19]
            lines.append(
                f"  v{version['ModelPackageVersion']:<3} {version['ModelApprovalStatus']:<22} "
                f"{created:<19}  {version.get('PipelineExecutionId', '')}  {shown}"
            )
            if decision := _decision(version):
                lines.append(f"       {decision}")
    return "\n".join(lines) if lines else "no model package groups yet"
