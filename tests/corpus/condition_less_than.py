"""ConditionLessThan and ConditionLessThanOrEqualTo on a value read with JsonGet (0.5) against a
ParameterFloat of the same value: `<=` holds at the boundary, `<` does not. Checks: each
ConditionStep's Outcome and the branch each took."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThan, ConditionLessThanOrEqualTo
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile

from tests.corpus._kit import Run, mark_step, pipeline, script_step

SCRIPTS = {
    "loss.py": """\
import json, os
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
json.dump({"loss": 0.5}, open(os.path.join(ROOT, "loss", "loss.json"), "w"))
"""
}


def build(session: Any) -> Pipeline:
    limit = ParameterFloat(name="MaxLoss", default_value=0.5)
    report = PropertyFile(name="Loss", output_name="loss", path="loss.json")
    measure = script_step(session, "Measure", "loss.py", outputs=["loss"], property_files=[report])
    loss = JsonGet(step_name=measure.name, property_file=report, json_path="loss")
    at_most = ConditionStep(
        name="AtMost",
        conditions=[ConditionLessThanOrEqualTo(left=loss, right=limit)],
        if_steps=[mark_step(session, "AtMostYes")],
        else_steps=[mark_step(session, "AtMostNo")],
    )
    below = ConditionStep(
        name="Below",
        conditions=[ConditionLessThan(left=loss, right=limit)],
        if_steps=[mark_step(session, "BelowYes")],
        else_steps=[mark_step(session, "BelowNo")],
    )
    return pipeline(session, [measure, at_most, below], parameters=[limit])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.step("AtMost").properties == {"Outcome": True}
    assert run.step("Below").properties == {"Outcome": False}
    assert run.ran("AtMostYes") and run.ran("BelowNo")
    assert run.statuses()["AtMostNo"] == run.statuses()["BelowYes"] == "NotExecuted"
