"""ProcessingStep whose script uses literal container paths (`/opt/ml/processing/...`), as code
written for the container does: the executor mounts the job's sandbox at /opt/ml (Linux mount
namespaces), so reads and writes there reach the step's inputs and outputs. Checks: the output
object holds what the script wrote to the literal path. Skipped where namespaces are missing."""

from __future__ import annotations

from typing import Any

import pytest
from sagemaker.processing import ProcessingInput
from sagemaker.workflow.pipeline import Pipeline

from sm_pipelines.local.sandbox import namespace_prefix
from tests.corpus._kit import PREFIX, Case, Run, pipeline, script_step

MARKS = [
    pytest.mark.skipif(
        namespace_prefix()[0] is None, reason="no mount namespace here: paths are rewritten"
    )
]

SCRIPTS = {
    "literal.py": """\
import os
text = open("/opt/ml/processing/input/greeting/greeting.txt").read()
os.makedirs("/opt/ml/processing/shout", exist_ok=True)
with open("/opt/ml/processing/shout/shout.txt", "w") as out:
    out.write(text.upper())
print("cwd", os.getcwd())
"""
}


def build(session: Any) -> Pipeline:
    shout = script_step(
        session,
        "Shout",
        "literal.py",
        inputs=[
            ProcessingInput(
                source=f"{PREFIX}/data/greeting.txt",
                destination="/opt/ml/processing/input/greeting",
            )
        ],
        outputs=["shout"],
    )
    return pipeline(session, [shout])


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/data/greeting.txt", "hello, container\n")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.text(f"{PREFIX}/out/shout/shout.txt") == "HELLO, CONTAINER\n"
