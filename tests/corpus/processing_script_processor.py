"""ProcessingStep with a ScriptProcessor (`command=["python3"]`, code from S3): the job reads
its input channel and writes an output that lands under the output's S3 destination.
Checks: the output object's content and the job's recorded image and entrypoint."""

from __future__ import annotations

from typing import Any

from sagemaker.processing import ProcessingInput, ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from tests.corpus._kit import IMAGE, MACHINE, PREFIX, ROLE, Case, Run, code_uri, output, pipeline

SCRIPTS = {
    "count_words.py": """\
import json, os
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
text = open(os.path.join(ROOT, "input", "text", "words.txt")).read()
with open(os.path.join(ROOT, "counts", "counts.json"), "w") as out:
    json.dump({"words": len(text.split()), "lines": len(text.splitlines())}, out)
"""
}


def build(session: Any) -> Pipeline:
    script = ScriptProcessor(
        command=["python3"], image_uri=IMAGE, role=ROLE, sagemaker_session=session, **MACHINE
    )
    count = ProcessingStep(
        name="Count",
        step_args=script.run(
            code=code_uri("count_words.py"),
            inputs=[
                ProcessingInput(
                    input_name="text",
                    source=f"{PREFIX}/data/words.txt",
                    destination="/opt/ml/processing/input/text",
                )
            ],
            outputs=[output("counts")],
        ),
    )
    return pipeline(session, [count])


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/data/words.txt", "one two three\nfour five\n")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.text(f"{PREFIX}/out/counts/counts.json") == '{"words": 5, "lines": 2}'
    app = run.step("Count").properties["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/count_words.py"]
