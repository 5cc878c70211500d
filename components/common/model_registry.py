"""The model registry as jobs see it: a package by ARN, and the group's champion.

The champion is the latest Approved version in the group. Under the local executor the registry
is <state>/registry/<group>/<version>.json (the records the RegisterModel step writes); in AWS it
is the SageMaker model registry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.common import artifacts
from components.common.job import JobError

APPROVED = "Approved"
REJECTED = "Rejected"
_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9-]{1,63})/(?P<version>\d+)$"
)


@dataclass(frozen=True)
class ModelPackage:
    arn: str
    group: str
    version: int
    status: str
    model_data_url: str | None
    image: str | None = None
    metrics_uri: str | None = None
    instance_types: tuple[str, ...] = ()
    # The evaluation report registered with the version, when the registry holds it inline.
    inline_report: dict[str, Any] | None = field(default=None, compare=False)

    def report(self) -> dict[str, Any] | None:
        """The evaluation.json registered as this version's ModelQuality statistics."""
        if self.inline_report is not None:
            return self.inline_report
        if not self.metrics_uri:
            return None
        found = artifacts.read_json(self.metrics_uri)
        return found if isinstance(found, dict) else None


def parse_arn(arn: str) -> tuple[str, int]:
    """(group, version) of a versioned model package ARN."""
    match = _ARN.match(arn or "")
    if not match:
        raise JobError(
            f"{arn!r} is not a model package version ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    return match["group"], int(match["version"])


def describe(arn: str) -> ModelPackage:
    group, version = parse_arn(arn)
    state = artifacts.local_state()
    if state is not None:
        path = state / "registry" / group / f"{version}.json"
        if not path.is_file():
            raise JobError(f"model package {arn} is not in the local registry ({path})")
        return _from_local(json.loads(path.read_text(encoding="utf-8")))
    return _from_description(_describe_aws(arn))


def champion(group: str, state: Path | None = None) -> ModelPackage | None:
    """The latest Approved version of `group`, or None when there is none (a first model).

    `state`: the local executor's state folder, for callers that run in the executor's own
    process (Lambda steps) and so do not see the jobs' state variable."""
    state = state or artifacts.local_state()
    if state is not None:
        return _local_champion(state / "registry" / group)
    return _aws_champion(group)


def _local_champion(folder: Path) -> ModelPackage | None:
    records = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")]
    approved = [r for r in records if r.get("ModelApprovalStatus") == APPROVED]
    if not approved:
        return None
    return _from_local(max(approved, key=lambda r: int(r["ModelPackageVersion"])))


def _container(record: dict[str, Any]) -> dict[str, Any]:
    containers = (record.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return containers[0]


def _statistics_uri(record: dict[str, Any]) -> str | None:
    quality = (record.get("ModelMetrics") or {}).get("ModelQuality") or {}
    return (quality.get("Statistics") or {}).get("S3Uri")


def _from_local(record: dict[str, Any]) -> ModelPackage:
    # The local registry stores what describe_model_package returns, plus the inline report.
    inline = (record.get("Metrics") or {}).get("ModelQuality.Statistics")
    return _from_description(record, inline if isinstance(inline, dict) else None)


def _from_description(described: dict[str, Any], inline_report: dict | None = None) -> ModelPackage:
    return ModelPackage(
        arn=described["ModelPackageArn"],
        group=described.get("ModelPackageGroupName", ""),
        version=int(described.get("ModelPackageVersion", 0)),
        status=described.get("ModelApprovalStatus", "PendingManualApproval"),
        model_data_url=_container(described).get("ModelDataUrl"),
        image=_container(described).get("Image"),
        metrics_uri=_statistics_uri(described),
        instance_types=tuple(
            (described.get("InferenceSpecification") or {}).get(
                "SupportedRealtimeInferenceInstanceTypes", []
            )
        ),
        inline_report=inline_report,
    )


def _client() -> Any:
    import boto3

    return boto3.client("sagemaker")


def _describe_aws(arn: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _client().describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        raise JobError(f"cannot describe model package {arn}: {exc}") from None
    except BotoCoreError as exc:
        raise JobError(f"cannot reach SageMaker to describe {arn}: {exc}") from None


def _aws_champion(group: str) -> ModelPackage | None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client()
    summaries: list[dict[str, Any]] = []
    try:
        pages = client.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelApprovalStatus=APPROVED
        )
        for page in pages:
            summaries += page.get("ModelPackageSummaryList", [])
    except ClientError as exc:
        # A group that does not exist yet simply has no champion; anything else is a real error.
        if "does not exist" in str(exc) or "not found" in str(exc).lower():
            return None
        raise JobError(f"cannot list model packages of {group}: {exc}") from None
    except BotoCoreError as exc:
        raise JobError(f"cannot reach SageMaker to list {group}: {exc}") from None
    if not summaries:
        return None
    # Versions, not creation times: two registrations within one clock tick stay ordered.
    latest = max(summaries, key=lambda s: int(s.get("ModelPackageVersion", 0)))
    return _from_description(_describe_aws(latest["ModelPackageArn"]))
