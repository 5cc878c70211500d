"""ExecutionVariables (PipelineExecutionId, PipelineName, PipelineExecutionArn) as container
arguments and inside a Join that names the output's S3 destination, run with
`--name nightly-scoring`. Checks: the job saw the execution's id, the chosen name and the ARN,
and its output landed under the path with the execution id."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.functions import Join
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import PREFIX, Run, output, pipeline, script_step

PARAMS = ("--name", "nightly-scoring")

SCRIPTS = {
    "whoami.py": """\
import os, sys
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
open(os.path.join(ROOT, "who", "who.txt"), "w").write("\\n".join(sys.argv[1:]))
"""
}


def build(session: Any) -> Pipeline:
    destination = Join(on="/", values=[PREFIX, "runs", ExecutionVariables.PIPELINE_EXECUTION_ID])
    who = script_step(
        session,
        "WhoAmI",
        "whoami.py",
        outputs=[output("who", destination)],
        arguments=[
            ExecutionVariables.PIPELINE_EXECUTION_ID,
            ExecutionVariables.PIPELINE_NAME,
            ExecutionVariables.PIPELINE_EXECUTION_ARN,
        ],
    )
    return pipeline(session, [who])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    execution = run.execution
    assert execution.pipeline == "nightly-scoring"
    written = run.text(f"{PREFIX}/runs/{execution.id}/who.txt").split("\n")
    assert written == [execution.id, "nightly-scoring", execution.arn]
    assert execution.arn.endswith(f":pipeline/nightly-scoring/execution/{execution.id}")
