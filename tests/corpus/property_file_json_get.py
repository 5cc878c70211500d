"""PropertyFile + JsonGet: an evaluation step writes `evaluation.json`, declared as a property
file; `JsonGet` reads a nested value from it into a ConditionGreaterThanOrEqualTo against a
ParameterFloat, and into the next step's container arguments. The score equals the threshold,
so `>=` takes the if-branch. Checks: Outcome true, the value the Publish job received, and the
Fail step not run."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile

from tests.corpus._kit import PREFIX, Run, pipeline, script_step

SCRIPTS = {
    "evaluate.py": """\
import json, os
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
report = {"metrics": {"accuracy": {"value": 0.75, "standard_deviation": 0.01}}}
json.dump(report, open(os.path.join(ROOT, "evaluation", "evaluation.json"), "w"))
""",
    "publish.py": """\
import os, sys
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
open(os.path.join(ROOT, "published", "score.txt"), "w").write(" ".join(sys.argv[1:]))
""",
}


def build(session: Any) -> Pipeline:
    threshold = ParameterFloat(name="MinAccuracy", default_value=0.75)
    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = script_step(
        session, "Evaluate", "evaluate.py", outputs=["evaluation"], property_files=[report]
    )
    accuracy = JsonGet(
        step_name=evaluate.name, property_file=report, json_path="metrics.accuracy.value"
    )
    publish = script_step(
        session, "Publish", "publish.py", outputs=["published"], arguments=["accuracy", accuracy]
    )
    check = ConditionStep(
        name="GoodEnough",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=threshold)],
        if_steps=[publish],
        else_steps=[FailStep(name="TooInaccurate", error_message="below MinAccuracy")],
    )
    return pipeline(session, [evaluate, check], parameters=[threshold])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.step("GoodEnough").properties == {"Outcome": True}
    assert run.text(f"{PREFIX}/out/published/score.txt") == "accuracy 0.75"
    assert run.statuses()["TooInaccurate"] == "NotExecuted"
