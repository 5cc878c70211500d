"""Condition steps: every condition must hold for the if-branch; the outcome is the step's only
property, which gates the steps of both branches."""

from __future__ import annotations

from typing import Any

from sm_pipelines.local.expressions import Scope, evaluate_condition
from sm_pipelines.local.job import JobContext


def prepare(raw: dict[str, Any], scope: Scope) -> dict[str, Any]:
    # Only the conditions are evaluated: the branches' own arguments may read steps that have
    # not run (and never will, on the branch not taken).
    conditions = (raw.get("Arguments") or {}).get("Conditions", [])
    return {"Outcome": all(evaluate_condition(c, scope) for c in conditions)}


def run(ctx: JobContext, request: dict[str, Any]) -> dict[str, Any]:
    return request
