"""ConditionOr, and a condition list (which SageMaker ANDs), over a ParameterBoolean overridden
to true (`--param Force=true`) and a ParameterFloat left at 0.5: `Force or Quality >= 0.9` holds,
`[Force, Quality >= 0.9]` does not. Checks: each Outcome, the branch taken, the typed
parameters."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import (
    ConditionEquals,
    ConditionGreaterThanOrEqualTo,
    ConditionOr,
)
from sagemaker.workflow.parameters import ParameterBoolean, ParameterFloat
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import Run, mark_step, pipeline

PARAMS = ("--param", "Force=true")


def build(session: Any) -> Pipeline:
    force = ParameterBoolean(name="Force", default_value=False)
    quality = ParameterFloat(name="Quality", default_value=0.5)
    forced = ConditionEquals(left=force, right=True)
    good = ConditionGreaterThanOrEqualTo(left=quality, right=0.9)
    either = ConditionStep(
        name="ForceOrGood",
        conditions=[ConditionOr(conditions=[forced, good])],
        if_steps=[mark_step(session, "ShipEither")],
        else_steps=[mark_step(session, "HoldEither")],
    )
    both = ConditionStep(
        name="ForceAndGood",
        conditions=[forced, good],
        if_steps=[mark_step(session, "ShipBoth")],
        else_steps=[mark_step(session, "HoldBoth")],
    )
    return pipeline(session, [either, both], parameters=[force, quality])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.execution.parameters == {"Force": True, "Quality": 0.5}
    assert run.step("ForceOrGood").properties == {"Outcome": True}
    assert run.step("ForceAndGood").properties == {"Outcome": False}
    assert run.ran("ShipEither") and run.ran("HoldBoth")
    assert run.statuses()["HoldEither"] == run.statuses()["ShipBoth"] == "NotExecuted"
