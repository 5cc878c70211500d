"""ConditionIn: a ParameterString overridden to `eu-central-1` is in the allowed list; a
ParameterInteger default (3) is not in `[1, 2]`. Checks: each Outcome and the branch taken."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionIn
from sagemaker.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import Run, mark_step, pipeline

PARAMS = ("--param", "Region=eu-central-1")


def build(session: Any) -> Pipeline:
    region = ParameterString(name="Region", default_value="us-east-1")
    tier = ParameterInteger(name="Tier", default_value=3)
    allowed = ConditionStep(
        name="RegionAllowed",
        conditions=[ConditionIn(value=region, in_values=["eu-west-1", "eu-central-1"])],
        if_steps=[mark_step(session, "InEU")],
        else_steps=[mark_step(session, "OutsideEU")],
    )
    small = ConditionStep(
        name="SmallTier",
        conditions=[ConditionIn(value=tier, in_values=[1, 2])],
        if_steps=[mark_step(session, "Small")],
        else_steps=[mark_step(session, "Large")],
    )
    return pipeline(session, [allowed, small], parameters=[region, tier])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.step("RegionAllowed").properties == {"Outcome": True}
    assert run.step("SmallTier").properties == {"Outcome": False}
    assert run.ran("InEU") and run.ran("Large")
    assert run.statuses()["OutsideEU"] == run.statuses()["Small"] == "NotExecuted"
