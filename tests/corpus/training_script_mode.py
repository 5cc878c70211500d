"""TrainingStep in script mode with the SDK's SKLearn estimator (framework 1.2-1, `entry_point`
in a `source_dir` tarball on S3 with a helper module, a ParameterFloat hyperparameter, a `train`
channel, metric definitions): the script gets `--alpha 0.5 --max-iter 4`, SM_* variables and its
channel, and saves to SM_MODEL_DIR. Checks: the files in model.tar.gz, FinalMetricDataList
parsed from the log, and the hyperparameters as the job recorded them."""

from __future__ import annotations

import json
from typing import Any

from sagemaker.inputs import TrainingInput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import TrainingStep

from tests.corpus._kit import MACHINE, PREFIX, ROLE, Case, Run, pipeline
from tests.local_definitions import tarball, untar

TRAIN = """\
import argparse, json, os
from mathlib import mean
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--max-iter", type=int, required=True)
args = parser.parse_args()
channel = os.environ["SM_CHANNEL_TRAIN"]
values = [float(v) for v in open(os.path.join(channel, "train.csv")).read().split()]
for step in range(args.max_iter):
    print(f"iter={step} rmse={1.0 / (step + 1):.4f}")
model = {"weight": mean(values) * args.alpha, "channels": json.loads(os.environ["SM_CHANNELS"])}
json.dump(model, open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w"))
"""

MATHLIB = "def mean(values):\n    return sum(values) / len(values)\n"


def build(session: Any) -> Pipeline:
    alpha = ParameterFloat(name="Alpha", default_value=0.5)
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=f"{PREFIX}/code/sklearn-src.tar.gz",
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        hyperparameters={"alpha": alpha, "max-iter": 4},
        metric_definitions=[{"Name": "rmse", "Regex": r"rmse=([0-9.]+)"}],
        output_path=f"{PREFIX}/models",
        sagemaker_session=session,
        **MACHINE,
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(inputs={"train": TrainingInput(s3_data=f"{PREFIX}/data/train")}),
    )
    return pipeline(session, [train], parameters=[alpha])


def prepare(case: Case) -> None:
    case.put(
        f"{PREFIX}/code/sklearn-src.tar.gz", tarball({"train.py": TRAIN, "mathlib.py": MATHLIB})
    )
    case.put(f"{PREFIX}/data/train/train.csv", "2\n4\n6\n")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    properties = run.step("Train").properties
    artifact = properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert json.loads(untar(run.s3(artifact))["model.json"]) == {
        "weight": 2.0,
        "channels": ["train"],
    }
    assert properties["FinalMetricDataList"] == [{"MetricName": "rmse", "Value": 0.25}]
    hyper = properties["HyperParameters"]
    assert (hyper["alpha"], hyper["max-iter"]) == ("0.5", "4")
    image = properties["AlgorithmSpecification"]["TrainingImage"]
    assert image.endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3"), image
