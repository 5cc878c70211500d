"""The local model registry as the view shows it: each group's versions with approval status,
decisions and numeric metrics, and each local endpoint with the version it serves
(<state>/endpoints/<name>.json, written by the deploy job, names the package it serves)."""

from __future__ import annotations

from typing import Any

from sm_pipelines.local import registry
from sm_pipelines.local.state import read_record
from sm_pipelines.ui.source import NotFound, ViewSource


def _version(version: dict[str, Any]) -> dict[str, Any]:
    history = version.get("ApprovalHistory")
    return {
        "version": version["ModelPackageVersion"],
        "arn": version["ModelPackageArn"],
        "status": version["ModelApprovalStatus"],
        "created": version.get("CreationTime"),
        "execution": version.get("PipelineExecutionId"),
        "description": version.get("ModelPackageDescription") or "",
        "approval_description": version.get("ApprovalDescription") or "",
        "history": history if isinstance(history, list) else [],
        "metrics": registry.version_metrics(version),
    }


def endpoints(source: ViewSource) -> list[dict[str, Any]]:
    folder = source.state.root / "endpoints"
    served = {
        v["ModelPackageArn"]: (group, v["ModelPackageVersion"])
        for group in registry.groups(source.state)
        for v in registry.versions(source.state, group)
    }
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = read_record(path)
        if not isinstance(record, dict):
            continue
        group, version = served.get(record.get("ModelPackageArn"), (None, None))
        found.append(
            {
                "name": record.get("EndpointName", path.stem),
                "status": record.get("EndpointStatus"),
                "config": record.get("EndpointConfigName"),
                "model_package_arn": record.get("ModelPackageArn"),
                "group": group,
                "version": version,
                "updated": record.get("LastModifiedTime") or record.get("CreationTime"),
                "configs": len(record.get("ConfigHistory") or []),
            }
        )
    return found


def model_groups(source: ViewSource) -> dict[str, Any]:
    live = endpoints(source)
    return {
        "groups": [
            {
                "name": group,
                "versions": [_version(v) for v in registry.versions(source.state, group)],
                "endpoints": [e for e in live if e["group"] == group],
            }
            for group in registry.groups(source.state)
        ],
        "endpoints": live,
    }


def check_version(source: ViewSource, group: str, version: int) -> None:
    """NotFound unless `group` holds `version` (before a decision is handed to the CLI)."""
    if group not in registry.groups(source.state):
        known = ", ".join(registry.groups(source.state)) or "none"
        raise NotFound(f"no model package group {group!r} (groups: {known})")
    numbers = [v["ModelPackageVersion"] for v in registry.versions(source.state, group)]
    if version not in numbers:
        raise NotFound(
            f"model package group {group} has no version {version} "
            f"(versions: {', '.join(map(str, numbers)) or 'none'})"
        )
