"""ConditionNot around ConditionIn and around ConditionGreaterThanOrEqualTo (the SDK emits the
inner condition under the key `Condition`): `Flavor=c` is not in [a, b], so the first negation
holds; 7 >= 5, so the second does not. Checks: each Outcome and the branch taken."""

from __future__ import annotations

import json
from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import (
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionNot,
)
from sagemaker.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import Run, mark_step, pipeline

PARAMS = ("--param", "Flavor=c")


def build(session: Any) -> Pipeline:
    flavor = ParameterString(name="Flavor", default_value="a")
    size = ParameterInteger(name="Size", default_value=7)
    not_in = ConditionStep(
        name="NotKnown",
        conditions=[ConditionNot(expression=ConditionIn(value=flavor, in_values=["a", "b"]))],
        if_steps=[mark_step(session, "Unknown")],
        else_steps=[mark_step(session, "Known")],
    )
    not_big = ConditionStep(
        name="NotBig",
        conditions=[ConditionNot(expression=ConditionGreaterThanOrEqualTo(left=size, right=5))],
        if_steps=[mark_step(session, "Small")],
        else_steps=[mark_step(session, "Big")],
    )
    return pipeline(session, [not_in, not_big], parameters=[flavor, size])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    step = json.loads(run.execution.definition)["Steps"][0]
    assert step["Arguments"]["Conditions"][0]["Type"] == "Not"
    assert "Condition" in step["Arguments"]["Conditions"][0]
    assert run.step("NotKnown").properties == {"Outcome": True}
    assert run.step("NotBig").properties == {"Outcome": False}
    assert run.ran("Unknown") and run.ran("Big")
    assert run.statuses()["Known"] == run.statuses()["Small"] == "NotExecuted"
