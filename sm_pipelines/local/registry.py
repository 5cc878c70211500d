"""The local model registry: model package groups and their versions, as files."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from sm_pipelines.config.naming import sagemaker_arn
from sm_pipelines.local.state import LocalState, write_json_atomic

_lock = threading.Lock()


def versions(state: LocalState, group: str) -> list[dict[str, Any]]:
    folder = state.registry_dir / group
    found = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
    return sorted(found, key=lambda v: v["ModelPackageVersion"])


def groups(state: LocalState) -> list[str]:
    if not state.registry_dir.is_dir():
        return []
    return sorted(p.name for p in state.registry_dir.iterdir() if p.is_dir())


def register(
    state: LocalState, group: str, record: dict[str, Any], region: str, account: str
) -> dict:
    """Add the next version to `group`; returns the stored record with its ARN and version."""
    with _lock:
        number = len(versions(state, group)) + 1
        stored = {
            **record,
            "ModelPackageGroupName": group,
            "ModelPackageVersion": number,
            "ModelPackageArn": sagemaker_arn(region, account, "model-package", f"{group}/{number}"),
            "CreationTime": datetime.now(UTC).isoformat(),
        }
        write_json_atomic(state.registry_dir / group / f"{number}.json", stored)
    return stored


def set_status(state: LocalState, group: str, version: int, status: str) -> dict[str, Any]:
    path = state.registry_dir / group / f"{version}.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["ModelApprovalStatus"] = status
    write_json_atomic(path, record)
    return record


def _flat_metrics(report: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a metrics report, by dotted path."""
    found: dict[str, float] = {}
    if isinstance(report, dict):
        for key, value in report.items():
            found.update(_flat_metrics(value, f"{prefix}{key}."))
    elif isinstance(report, int | float) and not isinstance(report, bool):
        found[prefix.rstrip(".")] = float(report)
    return found


def models_table(state: LocalState) -> str:
    """Every group and version with status, age and its numeric metrics."""
    lines = []
    for group in groups(state):
        lines.append(f"{group}")
        for version in versions(state, group):
            metrics = {}
            for report in version.get("Metrics", {}).values():
                metrics.update(_flat_metrics(report))
            shown = ", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items())[:8])
            lines.append(
                f"  v{version['ModelPackageVersion']:<3} {version['ModelApprovalStatus']:<22} "
                f"{version['CreationTime'][:19]}  {version.get('PipelineExecutionId', '')}  {shown}"
            )
    return "\n".join(lines) if lines else "no model package groups yet"
