"""ConditionGreaterThan on a ParameterInteger overridden to 5 (`--param Epochs=5`): `5 > 4` is
true and `5 > 5` is false, so only the first step's if-branch runs. Checks: both Outcomes and the
branch each took."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThan
from sagemaker.workflow.parameters import ParameterInteger
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import Run, mark_step, pipeline

PARAMS = ("--param", "Epochs=5")


def build(session: Any) -> Pipeline:
    epochs = ParameterInteger(name="Epochs", default_value=1)
    steps = [
        ConditionStep(
            name=f"Above{bound}",
            conditions=[ConditionGreaterThan(left=epochs, right=bound)],
            if_steps=[mark_step(session, f"Long{bound}")],
            else_steps=[mark_step(session, f"Short{bound}")],
        )
        for bound in (4, 5)
    ]
    return pipeline(session, steps, parameters=[epochs])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.execution.parameters == {"Epochs": 5}
    assert run.step("Above4").properties == {"Outcome": True}
    assert run.step("Above5").properties == {"Outcome": False}
    assert run.ran("Long4") and run.ran("Short5")
    assert run.statuses()["Short4"] == run.statuses()["Long5"] == "NotExecuted"
