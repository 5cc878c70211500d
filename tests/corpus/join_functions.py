"""Join (nested, over parameters, execution variables and step properties): a Join names the
first step's output destination; the second step takes that output's S3Uri property as its input
(a data edge) and a Join over the property and a ParameterInteger as an argument. Checks: the
file sits where the joined destination says, and the second job saw the joined text and the
first job's data."""

from __future__ import annotations

from typing import Any

from sagemaker.processing import ProcessingInput
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.functions import Join
from sagemaker.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Run, output, pipeline, script_step

PARAMS = ("--param", "Version=v2")

SCRIPTS = {
    "produce.py": """\
import os
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
open(os.path.join(ROOT, "data", "rows.txt"), "w").write("a\\nb\\nc\\n")
""",
    "consume.py": """\
import os, sys
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
rows = open(os.path.join(ROOT, "input", "rows", "rows.txt")).read().split()
open(os.path.join(ROOT, "summary", "summary.txt"), "w").write(f"{sys.argv[1]} {len(rows)}")
""",
}


def build(session: Any) -> Pipeline:
    version = ParameterString(name="Version", default_value="v1")
    shard = ParameterInteger(name="Shard", default_value=3)
    where = Join(
        on="/",
        values=[
            PREFIX,
            "datasets",
            Join(on="-", values=[version, ExecutionVariables.PIPELINE_EXECUTION_ID]),
        ],
    )
    produce = script_step(session, "Produce", "produce.py", outputs=[output("data", where)])
    produced = produce.properties.ProcessingOutputConfig.Outputs["data"].S3Output.S3Uri
    consume = script_step(
        session,
        "Consume",
        "consume.py",
        inputs=[ProcessingInput(source=produced, destination="/opt/ml/processing/input/rows")],
        outputs=["summary"],
        arguments=[Join(on="#", values=[produced, "shard", shard])],
    )
    return pipeline(session, [produce, consume], parameters=[version, shard])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    folder = f"{PREFIX}/datasets/v2-{run.execution.id}"
    assert run.text(f"{folder}/rows.txt") == "a\nb\nc\n"
    assert run.text(f"{PREFIX}/out/summary/summary.txt") == f"{folder}#shard#3 3"
    assert run.step("Consume").start >= run.step("Produce").end  # the data edge orders them
