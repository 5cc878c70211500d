"""LambdaStep: the function `corpus-grader` has its handler in `corpus_grader.py` beside the
definition (found with no environment file); its typed outputs feed a ConditionStep and a
job's arguments. Checks: OutputParameters, the branch taken, what the job received, and the
handler's answer in `sm-pipelines logs`."""

from __future__ import annotations

from typing import Any

from sagemaker.lambda_helper import Lambda
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Case, Run, mark_step, pipeline, script_step

HANDLER = """\
def lambda_handler(event, context):
    grade = "high" if event["score"] >= 0.5 else "low"
    return {"grade": grade, "bonus": event["points"] * 2, "asked_by": context.function_name}
"""

SCRIPTS = {
    "award.py": """\
import os, sys
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
open(os.path.join(ROOT, "award", "award.txt"), "w").write(" ".join(sys.argv[1:]))
"""
}


def build(session: Any) -> Pipeline:
    score = ParameterFloat(name="Score", default_value=0.2)
    grade = LambdaStep(
        name="Grade",
        lambda_func=Lambda(
            function_arn="arn:aws:lambda:us-east-1:000000000000:function:corpus-grader",
            session=session,
        ),
        inputs={"score": score, "points": 21},
        outputs=[
            LambdaOutput(output_name="grade", output_type=LambdaOutputTypeEnum.String),
            LambdaOutput(output_name="bonus", output_type=LambdaOutputTypeEnum.Integer),
        ],
    )
    award = script_step(
        session,
        "Award",
        "award.py",
        outputs=["award"],
        arguments=["bonus", grade.properties.Outputs["bonus"]],
    )
    check = ConditionStep(
        name="IsHigh",
        conditions=[ConditionEquals(left=grade.properties.Outputs["grade"], right="high")],
        if_steps=[award],
        else_steps=[mark_step(session, "NoAward")],
    )
    return pipeline(session, [grade, check], parameters=[score])


def prepare(case: Case) -> None:
    case.write("corpus_grader.py", HANDLER)


def drive(case: Case) -> Run:
    run = case.run("--param", "Score=0.75")
    run.notes["logs"] = case.cli("logs", run.execution.id, "Grade")
    return run


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.step("Grade").properties["OutputParameters"] == [
        {"Name": "grade", "Value": "high"},
        {"Name": "bonus", "Value": 42},
    ]
    assert run.step("IsHigh").properties == {"Outcome": True}
    assert run.text(f"{PREFIX}/out/award/award.txt") == "bonus 42"
    assert run.statuses()["NoAward"] == "NotExecuted"
    logs = run.notes["logs"]
    assert logs.code == 0 and '"asked_by": "corpus-grader"' in logs.out, logs
