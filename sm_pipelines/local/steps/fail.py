"""Fail steps: the execution fails with the step's evaluated ErrorMessage as its reason."""

from __future__ import annotations

from typing import Any

from sm_pipelines.local.expressions import Scope, to_text
from sm_pipelines.local.job import JobContext, StepFailure


def prepare(raw: dict[str, Any], scope: Scope) -> dict[str, Any]:
    message = (raw.get("Arguments") or {}).get("ErrorMessage", "")
    return {"ErrorMessage": to_text(scope.evaluate(message))}


def run(ctx: JobContext, request: dict[str, Any]) -> dict[str, Any]:
    raise StepFailure(request["ErrorMessage"])
