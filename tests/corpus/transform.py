"""TransformStep on the model a ModelStep created (`model.create()`, the transformer naming it by
`step.properties.ModelName`): script-mode inference code (`code/inference.py` in model.tar.gz
with `model_fn`, `input_fn`, `predict_fn`, `output_fn`), CSV split by line, MultiRecord
batches, assembled by line. Checks: the exact `.out` bytes under the output path, for an object
at the top and one in a sub-folder, and the job's recorded model name."""

from __future__ import annotations

import json
from typing import Any

from sagemaker.model import Model
from sagemaker.transformer import Transformer
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import TransformStep

from tests.corpus._kit import IMAGE, PREFIX, ROLE, Case, Run, pipeline
from tests.local_definitions import tarball

MODEL_DATA = f"{PREFIX}/model/model.tar.gz"

INFERENCE = """\
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "factor.json")) as handle:
        return json.load(handle)["factor"]

def input_fn(body, content_type):
    assert content_type == "text/csv", content_type
    return [[float(v) for v in line.split(",")] for line in body.splitlines() if line]

def predict_fn(rows, factor):
    return [[value * factor for value in row] for row in rows]

def output_fn(prediction, accept):
    return "\\n".join(",".join("%g" % v for v in row) for row in prediction)
"""


def build(session: Any) -> Pipeline:
    model = Model(image_uri=IMAGE, model_data=MODEL_DATA, role=ROLE, sagemaker_session=session)
    create = ModelStep(name="Make", step_args=model.create(instance_type="ml.m5.large"))
    scorer = Transformer(
        model_name=create.properties.ModelName,
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"{PREFIX}/scored",
        base_transform_job_name="score",
        sagemaker_session=session,
    )
    score = TransformStep(
        name="Score",
        step_args=scorer.transform(
            data=f"{PREFIX}/batch", content_type="text/csv", split_type="Line"
        ),
    )
    return pipeline(session, [create, score])


def prepare(case: Case) -> None:
    files = {"factor.json": json.dumps({"factor": 3}), "code/inference.py": INFERENCE}
    case.put(MODEL_DATA, tarball(files))
    case.put(f"{PREFIX}/batch/a.csv", "1,2\n3,4\n")
    case.put(f"{PREFIX}/batch/day2/b.csv", "5,6\n")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.text(f"{PREFIX}/scored/a.csv.out") == "3,6\n9,12\n"
    assert run.text(f"{PREFIX}/scored/day2/b.csv.out") == "15,18\n"
    properties = run.step("Score").properties
    assert properties["TransformJobStatus"] == "Completed"
    assert properties["ModelName"] == run.step("Make-CreateModel").properties["ModelName"]
