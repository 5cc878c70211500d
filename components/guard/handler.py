"""Lambda handler: is an earlier execution of this pipeline still running?

EventBridge starts a pipeline whenever its rule fires; it cannot skip a start while one runs.
This handler is the pipeline's first step and answers that question, so a scheduled start that
overlaps a running execution is skipped (and reported by its Fail step) instead of queued.
"""

from __future__ import annotations

from typing import Any

RUNNING = "Executing"


def _executions(pipeline: str, context: Any) -> list[dict[str, Any]]:
    """Summaries of the pipeline's running executions (local executor or SageMaker)."""
    local = getattr(context, "list_pipeline_executions", None)
    if callable(local):
        return list(local(pipeline))
    import boto3

    client = boto3.client("sagemaker")
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("list_pipeline_executions").paginate(
        PipelineName=pipeline, SortBy="CreationTime", SortOrder="Ascending"
    ):
        found += page.get("PipelineExecutionSummaries", [])
    return found


def handle(event: dict[str, Any], context: Any) -> dict[str, str]:
    pipeline = event.get("pipeline_name")
    current = event.get("execution_arn")
    if not pipeline or not current:
        raise ValueError("the guard needs pipeline_name and execution_arn inputs")
    running = [
        e for e in _executions(pipeline, context) if e.get("PipelineExecutionStatus") == RUNNING
    ]

    def order(e: dict[str, Any]) -> tuple[str, str]:
        # Start time first; the ARN breaks a tie so two simultaneous starts never skip each other.
        return (str(e.get("StartTime", "")), str(e.get("PipelineExecutionArn", "")))

    mine = next((e for e in running if e.get("PipelineExecutionArn") == current), None)
    earlier = [
        e
        for e in running
        if e.get("PipelineExecutionArn") != current and (mine is None or order(e) < order(mine))
    ]
    if earlier:
        return {"skip": "true", "overlapping_execution": earlier[0]["PipelineExecutionArn"]}
    return {"skip": "false", "overlapping_execution": ""}
