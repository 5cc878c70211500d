"""TuningStep: a HyperparameterTuner (Grid over two categorical ranges, as SageMaker's Grid
requires: 4 training jobs, 2 at a time) over a script-mode Estimator whose script prints
`objective: <value>`; a ConditionStep reads the best job's objective from the step's
properties, and a Processing step reads the best model through `get_top_model_s3_uri`.
Checks: every combination tried, the best job and its hyperparameters, the objective the
condition saw, and the best model's content."""

from __future__ import annotations

import json
from typing import Any

from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput
from sagemaker.tuner import CategoricalParameter, HyperparameterTuner
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import TuningStep

from tests.corpus._kit import (
    BUCKET,
    IMAGE,
    MACHINE,
    PREFIX,
    ROLE,
    Case,
    Run,
    pipeline,
    script_step,
)
from tests.local_definitions import tarball

MODELS = "p/tuned"

TRAIN = """\
import argparse, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--kernel", required=True)
parser.add_argument("--depth", type=int, required=True)
args = parser.parse_args()
score = args.depth * {"linear": 1, "rbf": 2}[args.kernel]
json.dump({"kernel": args.kernel, "depth": args.depth},
          open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w"))
print("objective:", score)
"""

SCRIPTS = {
    "best.py": """\
import os, shutil, tarfile
ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")
with tarfile.open(os.path.join(ROOT, "best", "model.tar.gz")) as tar:
    data = tar.extractfile("model.json").read()
open(os.path.join(ROOT, "chosen", "model.json"), "wb").write(data)
"""
}


def build(session: Any) -> Pipeline:
    estimator = Estimator(
        role=ROLE,
        image_uri=IMAGE,
        entry_point="train.py",
        source_dir=f"{PREFIX}/code/tune-src.tar.gz",
        output_path=f"s3://{BUCKET}/{MODELS}",
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
        **MACHINE,
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="objective",
        hyperparameter_ranges={
            "kernel": CategoricalParameter(["linear", "rbf"]),
            "depth": CategoricalParameter([1, 2]),
        },
        metric_definitions=[{"Name": "objective", "Regex": r"objective: ([0-9.]+)"}],
        strategy="Grid",
        max_jobs=None,
        max_parallel_jobs=2,
    )
    tune = TuningStep(
        name="Tune",
        step_args=tuner.fit(inputs={"train": TrainingInput(s3_data=f"{PREFIX}/data/tune")}),
    )
    best = tune.properties.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value
    use_best = script_step(
        session,
        "UseBest",
        "best.py",
        inputs=[
            ProcessingInput(
                source=tune.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix=MODELS),
                destination="/opt/ml/processing/best",
            )
        ],
        outputs=["chosen"],
    )
    check = ConditionStep(
        name="GoodEnough",
        conditions=[ConditionGreaterThanOrEqualTo(left=best, right=4)],
        if_steps=[use_best],
        else_steps=[FailStep(name="TooWeak", error_message="no good combination")],
    )
    return pipeline(session, [tune, check])


def prepare(case: Case) -> None:
    case.put(f"{PREFIX}/code/tune-src.tar.gz", tarball({"train.py": TRAIN}))
    case.put(f"{PREFIX}/data/tune/data.txt", "1 2 3\n")


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    tune = run.step("Tune").properties
    tried = sorted(
        (s["TunedHyperParameters"]["kernel"], s["TunedHyperParameters"]["depth"])
        for s in tune["TrainingJobSummaries"]
    )
    assert tried == [("linear", "1"), ("linear", "2"), ("rbf", "1"), ("rbf", "2")]
    best = tune["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"kernel": "rbf", "depth": "2"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 4.0
    assert run.step("GoodEnough").properties == {"Outcome": True}
    chosen = json.loads(run.text(f"{PREFIX}/out/chosen/model.json"))
    assert chosen == {"kernel": "rbf", "depth": 2}
