"""GET /api/executions[?pipeline=], GET /api/executions/{id}, its steps' panels, POST retry,
and GET /api/actions/{id} (what a started command is doing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sm_pipelines.local.execution import FAILED
from sm_pipelines.ui import executions
from sm_pipelines.ui.routes import deps

router = APIRouter(prefix="/api")


@router.get("/executions")
def list_executions(source: deps.Source, pipeline: str | None = None) -> dict[str, Any]:
    return {"executions": executions.executions(source, pipeline)}


@router.get("/executions/{execution_id}")
def get_execution(execution_id: str, source: deps.Source) -> dict[str, Any]:
    return executions.execution_detail(source, execution_id)


@router.get("/executions/{execution_id}/steps/{step}")
def get_step(execution_id: str, step: str, source: deps.Source) -> dict[str, Any]:
    return executions.step_detail(source, execution_id, step)


@router.post("/executions/{execution_id}/retry", status_code=202)
def retry(
    execution_id: str,
    source: deps.Source,
    actions: deps.Commands,
) -> Any:
    execution = executions.load(source, execution_id)
    if execution.status != FAILED:
        return JSONResponse(
            {"error": f"execution {execution_id} is {execution.status}; only a failed one retries"},
            status_code=409,
        )
    return actions.describe(actions.retry(execution_id, execution.pipeline).id)


@router.get("/actions/{action_id}")
def get_action(action_id: str, actions: deps.Commands) -> dict[str, Any]:
    return actions.describe(action_id)
