"""EventBridge-shaped events for local executions: the same detail-types and fields AWS sends,
so alert routes and event patterns can be tested against local runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

EXECUTION_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
STEP_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Step Status Change"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"


def _envelope(detail_type: str, region: str, account: str, resources: list[str], detail: dict):
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.sagemaker",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def execution_event(
    execution: Any, previous: str | None, region: str, account: str
) -> dict[str, Any]:
    detail = {
        "pipelineArn": execution.pipeline_arn,
        "pipelineExecutionArn": execution.arn,
        "pipelineExecutionDisplayName": execution.id,
        "currentPipelineExecutionStatus": execution.status,
        "previousPipelineExecutionStatus": previous,
        "executionStartTime": execution.start,
    }
    if execution.end:
        detail["executionEndTime"] = execution.end
    if execution.failure_reason:
        detail["failureReason"] = execution.failure_reason
    resources = [execution.pipeline_arn, execution.arn]
    return _envelope(EXECUTION_STATUS_CHANGE, region, account, resources, detail)


def step_event(
    execution: Any, step: Any, previous: str | None, region: str, account: str
) -> dict[str, Any]:
    detail = {
        "pipelineArn": execution.pipeline_arn,
        "pipelineExecutionArn": execution.arn,
        "stepName": step.name,
        "stepType": step.type,
        "currentStepStatus": step.status,
        "previousStepStatus": previous,
        "stepStartTime": step.start,
        "metadata": step.metadata(),
    }
    if step.end:
        detail["stepEndTime"] = step.end
    if step.failure_reason:
        detail["failureReason"] = step.failure_reason
    resources = [execution.pipeline_arn, execution.arn]
    return _envelope(STEP_STATUS_CHANGE, region, account, resources, detail)


def model_package_event(properties: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """What AWS sends when a version is registered or its approval status changes: the
    package's own description as detail (with who changed it, when and why, once a person
    has)."""
    keys = (
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelPackageArn",
        "ModelApprovalStatus",
        "ModelPackageDescription",
        "ApprovalDescription",
        "CreationTime",
        "LastModifiedTime",
        "LastModifiedBy",
    )
    detail = {key: properties[key] for key in keys if key in properties}
    resources = [properties.get("ModelPackageArn", "")]
    return _envelope(MODEL_PACKAGE_STATE_CHANGE, region, account, resources, detail)
