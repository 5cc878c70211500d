"""GET /api/models, POST /api/models/{group}/{version}/approve|reject (the CLI's
`models approve|reject`, with its event and the deploy pipeline it starts)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from sm_pipelines.ui import models
from sm_pipelines.ui.routes import deps

router = APIRouter(prefix="/api/models")


class Decision(BaseModel):
    reason: str | None = None


@router.get("")
def list_models(source: deps.Source) -> dict[str, Any]:
    return models.model_groups(source)


@router.post("/{group}/{version}/{decision}", status_code=202)
def decide(
    group: str,
    version: int,
    decision: Literal["approve", "reject"],
    source: deps.Source,
    actions: deps.Commands,
    body: Decision | None = None,
) -> dict[str, Any]:
    models.check_version(source, group, version)
    reason = (body.reason or "").strip() if body else ""
    return actions.describe(actions.decide(group, version, decision, reason or None).id)
