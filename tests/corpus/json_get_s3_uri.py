"""JsonGet with `s3_uri` (how `@step` return values are read): one JsonGet reads the object a
step wrote (its URI joined from the step's output property), another reads a thresholds file
the user staged in S3; a ConditionLessThan compares them and a Fail message quotes both.
Checks: the Outcome, the failure line with both values, and the exit code."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThan
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Case, Run, mark_step, pipeline, script_step

SCRIPTS = {
    "score.py": """\
import json, os
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
json.dump({"metrics": {"f1": 0.6}}, open(os.path.join(ROOT, "result", "result.json"), "w"))
"""
}


def build(session: Any) -> Pipeline:
    score = script_step(session, "Score", "score.py", outputs=["result"])
    written = score.properties.ProcessingOutputConfig.Outputs["result"].S3Output.S3Uri
    f1 = JsonGet(
        s3_uri=Join(on="/", values=[written, "result.json"]), json_path="metrics.f1", step=score
    )
    # The SDK takes s3_uri only as a Join.
    thresholds = Join(on="/", values=[PREFIX, "config", "thresholds.json"])
    minimum = JsonGet(s3_uri=thresholds, json_path="f1.minimum", step=score)
    check = ConditionStep(
        name="TooLow",
        conditions=[ConditionLessThan(left=f1, right=minimum)],
        if_steps=[
            FailStep(name="Reject", error_message=Join(on=" ", values=["f1", f1, "<", minimum]))
        ],
        else_steps=[mark_step(session, "Accept")],
    )
    return pipeline(session, [score, check])


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/config/thresholds.json", '{"f1": {"minimum": 0.7}}')


def expect(run: Run) -> None:
    assert run.code == 1, run.why()
    assert run.step("TooLow").properties == {"Outcome": True}
    assert run.execution.failure_reason == "f1 0.6 < 0.7"
    assert "failure: f1 0.6 < 0.7" in run.out
    assert run.statuses()["Accept"] == "NotExecuted"
