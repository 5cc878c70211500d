"""RegisterModel steps: a new version in the local model registry, with its metric reports."""

from __future__ import annotations

import json
from typing import Any

from sm_pipelines.local import registry
from sm_pipelines.local.job import JobContext, StepFailure
from sm_pipelines.local.job import evaluated_arguments as prepare

__all__ = ["prepare", "run"]

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
# Request fields that describe the call, not the version.
_NOT_STORED = {"ClientToken", "Tags"}


def _metric_reports(ctx: JobContext, model_metrics: dict[str, Any]) -> dict[str, Any]:
    """The JSON behind every S3Uri in ModelMetrics, keyed by section (ModelQuality.Statistics)."""
    reports = {}
    for section, sources in (model_metrics or {}).items():
        for kind, source in (sources or {}).items():
            uri = source.get("S3Uri") if isinstance(source, dict) else None
            if not uri:
                continue
            path = ctx.state.s3_path(uri)
            if not path.is_file():
                raise StepFailure(
                    f"ClientError: ModelMetrics {section}.{kind}: {uri} does not exist"
                )
            try:
                reports[f"{section}.{kind}"] = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                reports[f"{section}.{kind}"] = path.read_text(encoding="utf-8")[:2000]
    return reports


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    group = arguments.get("ModelPackageGroupName")
    if not group:
        raise StepFailure("ClientError: RegisterModel needs ModelPackageGroupName")
    status = arguments.get("ModelApprovalStatus", "PendingManualApproval")
    if status not in APPROVAL_STATUSES:
        raise StepFailure(f"ValidationException: ModelApprovalStatus {status!r} is not valid")
    containers = arguments.get("InferenceSpecification", {}).get("Containers", [])
    for container in containers:
        uri = container.get("ModelDataUrl")
        if uri and not ctx.state.s3_path(uri).exists():
            raise StepFailure(f"ClientError: ModelDataUrl {uri} does not exist")
    record = registry.register(
        ctx.state,
        group,
        {
            # Every field CreateModelPackage accepts is kept (DriftCheckBaselines,
            # CustomerMetadataProperties, Domain, Task, SamplePayloadUrl...), as AWS keeps them.
            **{key: value for key, value in arguments.items() if key not in _NOT_STORED},
            "ModelApprovalStatus": status,
            "ModelPackageDescription": arguments.get("ModelPackageDescription", ""),
            "InferenceSpecification": arguments.get("InferenceSpecification", {}),
            "ModelMetrics": arguments.get("ModelMetrics", {}),
            "Metrics": _metric_reports(ctx, arguments.get("ModelMetrics", {})),
            "PipelineName": ctx.pipeline,
            "PipelineExecutionId": ctx.execution_id,
        },
        ctx.region,
        ctx.account,
    )
    return {**arguments, **record}
