"""GET /api/monitoring/traces, /reports and /alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sm_pipelines.ui import monitoring
from sm_pipelines.ui.routes import deps

router = APIRouter(prefix="/api/monitoring")


@router.get("/traces")
def traces(source: deps.Source) -> dict[str, Any]:
    return monitoring.traces(source)


@router.get("/reports")
def reports(source: deps.Source) -> dict[str, Any]:
    return {"reports": monitoring.reports(source)}


@router.get("/alerts")
def alerts(source: deps.Source) -> dict[str, Any]:
    return {"file": str(source.state.root / "alerts.jsonl"), "alerts": monitoring.alerts(source)}
