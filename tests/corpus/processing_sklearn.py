"""ProcessingStep with an SKLearnProcessor (framework 1.2-1, code from S3, `--factor 3` as
container arguments): the SDK picks the scikit-learn image; the job reads its input and writes
its output. Checks: the scaled rows in the output object, and the image the step recorded."""

from __future__ import annotations

from typing import Any

from sagemaker.processing import ProcessingInput
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep

from tests.corpus._kit import MACHINE, PREFIX, ROLE, Case, Run, code_uri, output, pipeline

SCRIPTS = {
    "scale.py": """\
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--factor", type=int, required=True)
args = parser.parse_args()
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
rows = open(os.path.join(ROOT, "input", "numbers", "numbers.csv")).read().split()
with open(os.path.join(ROOT, "scaled", "scaled.csv"), "w") as out:
    out.write("".join(f"{int(v) * args.factor}\\n" for v in rows))
"""
}


def build(session: Any) -> Pipeline:
    sklearn = SKLearnProcessor(
        framework_version="1.2-1", role=ROLE, sagemaker_session=session, **MACHINE
    )
    scale = ProcessingStep(
        name="Scale",
        step_args=sklearn.run(
            code=code_uri("scale.py"),
            inputs=[
                ProcessingInput(
                    source=f"{PREFIX}/data/numbers.csv",
                    destination="/opt/ml/processing/input/numbers",
                )
            ],
            outputs=[output("scaled")],
            arguments=["--factor", "3"],
        ),
    )
    return pipeline(session, [scale])


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/data/numbers.csv", "1\n2\n3\n")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.text(f"{PREFIX}/out/scaled/scaled.csv") == "3\n6\n9\n"
    image = run.step("Scale").properties["AppSpecification"]["ImageUri"]
    assert image.endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3"), image
