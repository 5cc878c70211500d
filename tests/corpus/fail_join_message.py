"""FailStep whose error message is a Join of text, a JsonGet value, a ParameterFloat and the
PipelineExecutionId: the run ends Failed with exit 1 and that message. Checks: the exit code,
the failure line the command printed, the message in the execution record and in `describe`,
and that the branch not taken did not run."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.properties import PropertyFile

from tests.corpus._kit import Run, mark_step, pipeline, script_step

PARAMS = ("--param", "MinRecall=0.8")

SCRIPTS = {
    "recall.py": """\
import json, os
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
json.dump({"recall": 0.625}, open(os.path.join(ROOT, "report", "report.json"), "w"))
"""
}


def build(session: Any) -> Pipeline:
    minimum = ParameterFloat(name="MinRecall", default_value=0.5)
    report = PropertyFile(name="Report", output_name="report", path="report.json")
    measure = script_step(
        session, "Measure", "recall.py", outputs=["report"], property_files=[report]
    )
    recall = JsonGet(step_name=measure.name, property_file=report, json_path="recall")
    rejected = FailStep(
        name="Rejected",
        error_message=Join(
            on=" ",
            values=[
                "execution",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                "rejected: recall",
                recall,
                "is below",
                minimum,
            ],
        ),
    )
    check = ConditionStep(
        name="RecallOK",
        conditions=[ConditionGreaterThanOrEqualTo(left=recall, right=minimum)],
        if_steps=[mark_step(session, "Promote")],
        else_steps=[rejected],
    )
    return pipeline(session, [measure, check], parameters=[minimum])


def expect(run: Run) -> None:
    message = f"execution {run.execution.id} rejected: recall 0.625 is below 0.8"
    assert run.code == 1, run.why()
    assert run.execution.status == "Failed"
    assert run.execution.failure_reason == message
    assert run.step("Rejected").failure_reason == message
    assert f"failure: {message}" in run.out
    assert run.statuses()["Promote"] == "NotExecuted"
    described = run.case.cli("describe", run.execution.id)
    assert described.code == 0 and f"failure: {message}" in described.out
