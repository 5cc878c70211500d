"""The local executor runs an SDK TuningStep: a HyperparameterTuner over a script-mode Estimator,
built by the real SDK inside `offline_session` and run by `Runner` against a LocalState.

The training script prints `objective: <value>` with value = depth * weight(mode) + offset, so
every tuned combination has a known objective; a mode named by the static `fail_mode` exits 1 and
one named by `silent_mode` prints no objective.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    TuningJobCompletionCriteriaConfig,
)
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join
from sagemaker.workflow.parameters import ParameterFloat
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TuningStep

from sm_pipelines.compile.session import offline_session
from sm_pipelines.local.execution import FAILED, NOT_EXECUTED, SUCCEEDED, Execution
from sm_pipelines.local.job import StepFailure
from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.state import LocalState
from sm_pipelines.local.steps import tuning

PIPELINE = "tuning-pipeline"
BUCKET = "my-bucket"
PREFIX = f"s3://{BUCKET}/tuning"
MODELS = "tuning/models"
ROLE = "arn:aws:iam::000000000000:role/local-runner"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/local:latest"
CODE_DIR = "/opt/ml/processing/input/code"
METRICS = [{"Name": "objective", "Regex": r"objective: ([-0-9.eE+]+)"}]
WEIGHTS = {"a": 1, "b": 2, "c": 3}
OFFSET = 0.5

TRAIN = """\
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="a")
parser.add_argument("--depth", type=int, default=1)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--momentum", type=float, default=0.5)
parser.add_argument("--offset", type=float, default=0.0)
parser.add_argument("--fail_mode", default="")
parser.add_argument("--silent_mode", default="")
args = parser.parse_args()
hps = json.loads(os.environ["SM_HPS"])
assert os.listdir(os.environ["SM_CHANNEL_TRAIN"]) == ["data.txt"], os.environ["SM_CHANNEL_TRAIN"]
if args.fail_mode in (args.mode, "all"):
    raise RuntimeError(f"mode {args.mode} is broken")
score = args.depth * {"a": 1, "b": 2, "c": 3}[args.mode] + args.offset
score += -abs(args.lr - 0.01) + args.momentum - 0.5
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
    json.dump({"hps": hps, "score": score}, out)
if args.mode != args.silent_mode:
    print("epoch 1 objective: -1")
    print("objective:", score)
"""

CONSUME = """\
import json, os, tarfile
root = os.path.join(os.environ["SM_ML_ROOT"], "processing")
report = {}
for name in ("best", "runner-up"):
    with tarfile.open(os.path.join(root, name, "model.tar.gz")) as tar:
        report[name] = json.load(tar.extractfile("model.json"))
with open(os.path.join(root, "report", "report.json"), "w") as out:
    json.dump(report, out)
"""


def _build(
    ranges: dict[str, Any],
    strategy: str = "Grid",
    objective_type: str = "Maximize",
    max_jobs: int | None = None,
    max_parallel: int = 2,
    static: dict[str, Any] | None = None,
    early_stopping: str = "Off",
    random_seed: int | None = None,
    downstream: bool = False,
    cache: bool = False,
    target: float | None = None,
) -> str:
    """A pipeline with a TuningStep named Tune (and, downstream, Check -> Consume | TooLow)."""
    with offline_session("us-east-1", BUCKET) as session:
        estimator = Estimator(
            role=ROLE,
            image_uri=IMAGE,
            entry_point="train.py",
            source_dir=f"{PREFIX}/code/sourcedir.tar.gz",
            hyperparameters={"offset": OFFSET, **(static or {})},
            output_path=f"s3://{BUCKET}/{MODELS}",
            disable_profiler=True,
            debugger_hook_config=False,
            sagemaker_session=session,
            instance_count=1,
            instance_type="ml.m5.large",
        )
        tuner = HyperparameterTuner(
            estimator,
            objective_metric_name="objective",
            hyperparameter_ranges=ranges,
            metric_definitions=METRICS,
            strategy=strategy,
            objective_type=objective_type,
            max_jobs=max_jobs,
            max_parallel_jobs=max_parallel,
            early_stopping_type=early_stopping,
            random_seed=random_seed,
            completion_criteria_config=(
                TuningJobCompletionCriteriaConfig(target_objective_metric_value=target)
                if target is not None
                else None
            ),
        )
        tune = TuningStep(
            name="Tune",
            step_args=tuner.fit(inputs={"train": TrainingInput(s3_data=f"{PREFIX}/data")}),
            cache_config=CacheConfig(enable_caching=True, expire_after="P1D") if cache else None,
        )
        steps: list[Any] = [tune]
        parameters: list[Any] = []
        if downstream:
            threshold = ParameterFloat(name="Threshold", default_value=1.0)
            parameters.append(threshold)
            best_value = tune.properties.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric
            consumer = Processor(
                role=ROLE,
                image_uri=IMAGE,
                entrypoint=["python3", f"{CODE_DIR}/consume.py"],
                sagemaker_session=session,
                instance_count=1,
                instance_type="ml.m5.large",
            )
            consume = ProcessingStep(
                name="Consume",
                step_args=consumer.run(
                    inputs=[
                        ProcessingInput(
                            input_name="code", source=f"{PREFIX}/code/consume", destination=CODE_DIR
                        ),
                        *(
                            ProcessingInput(
                                input_name=name,
                                source=tune.get_top_model_s3_uri(
                                    top_k=k, s3_bucket=BUCKET, prefix=MODELS
                                ),
                                destination=f"/opt/ml/processing/{name}",
                            )
                            for k, name in enumerate(("best", "runner-up"))
                        ),
                    ],
                    outputs=[
                        ProcessingOutput(
                            output_name="report",
                            source="/opt/ml/processing/report",
                            destination=f"{PREFIX}/report",
                        )
                    ],
                ),
            )
            too_low = FailStep(
                name="TooLow",
                error_message=Join(
                    on=" ", values=["best objective", best_value.Value, "is below", threshold]
                ),
            )
            steps.append(
                ConditionStep(
                    name="Check",
                    conditions=[
                        ConditionGreaterThanOrEqualTo(left=best_value.Value, right=threshold)
                    ],
                    if_steps=[consume],
                    else_steps=[too_low],
                )
            )
        pipeline = Pipeline(
            name=PIPELINE,
            parameters=parameters,
            steps=steps,
            sagemaker_session=session,
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
        )
        return pipeline.definition()


GRID = {"mode": CategoricalParameter(["a", "b"]), "depth": IntegerParameter(1, 3)}
RANDOM = {
    "lr": ContinuousParameter(1e-4, 1e-1, scaling_type="Logarithmic"),
    "momentum": ContinuousParameter(0.1, 0.9, scaling_type="Linear"),
}


def _score(tuned: dict[str, str]) -> float:
    mode, depth = tuned.get("mode", "a"), int(tuned.get("depth", "1"))
    lr, momentum = float(tuned.get("lr", "0.01")), float(tuned.get("momentum", "0.5"))
    return depth * WEIGHTS[mode] + OFFSET - abs(lr - 0.01) + momentum - 0.5


@pytest.fixture
def state(tmp_path: Path) -> LocalState:
    local = LocalState(tmp_path / "state")
    local.put_bytes(f"{PREFIX}/data/data.txt", b"1 2 3\n")
    local.put_bytes(f"{PREFIX}/code/consume/consume.py", CONSUME.encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = TRAIN.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    local.put_bytes(f"{PREFIX}/code/sourcedir.tar.gz", buffer.getvalue())
    return local


def _run(
    state: LocalState, text: str, tmp_path: Path, overrides: dict[str, str] | None = None
) -> Execution:
    definition = load_definition(text, "test")
    settings = RunSettings(cwd=tmp_path, max_parallel=2, sleep=lambda seconds: None)
    runner = Runner(state, definition, PIPELINE, settings)
    return runner.start(definition.typed_parameters(overrides or {}))


def _log(state: LocalState, execution: Execution, step: str = "Tune") -> str:
    path = state.execution_dir(execution.id) / "logs" / f"{step}.log"
    return path.read_text() if path.is_file() else ""


def _tune(state: LocalState, execution: Execution) -> dict[str, Any]:
    record = execution.steps["Tune"]
    assert record.status == SUCCEEDED, (record.failure_reason, _log(state, execution))
    return record.properties


def _tried(properties: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        tuple(s["TunedHyperParameters"][k] for k in sorted(s["TunedHyperParameters"]))
        for s in properties["TrainingJobSummaries"]
    ]


def _by_index(properties: dict[str, Any]) -> list[dict[str, str]]:
    """TunedHyperParameters in launch order (the 001, 002... in the job names)."""
    summaries = sorted(properties["TrainingJobSummaries"], key=lambda s: s["TrainingJobName"])
    return [s["TunedHyperParameters"] for s in summaries]


def _values(properties: dict[str, Any]) -> list[float]:
    return [
        s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for s in properties["TrainingJobSummaries"]
        if s["TrainingJobStatus"] == "Completed"
    ]


def test_grid_tries_every_combination_and_reports_the_best_first(
    state: LocalState, tmp_path: Path
) -> None:
    execution = _run(state, _build(GRID, max_jobs=6), tmp_path)
    assert execution.status == SUCCEEDED, execution.failure_reason
    tune = _tune(state, execution)

    name = tune["HyperParameterTuningJobName"]
    assert re.fullmatch(r"Tune-[0-9a-f]{12}", name) and len(name) <= 32
    assert tune["HyperParameterTuningJobStatus"] == "Completed"
    assert tune["HyperParameterTuningJobArn"].endswith(
        f":hyper-parameter-tuning-job/{name.lower()}"
    )
    # The grid in its fixed order: the categorical range varies slowest.
    assert _by_index(tune) == [
        {"mode": mode, "depth": str(depth)} for mode in ("a", "b") for depth in (1, 2, 3)
    ]
    summaries = tune["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in summaries] == [
        s["TrainingJobName"]
        for s in sorted(summaries, key=lambda s: -_score(s["TunedHyperParameters"]))
    ]
    assert _values(tune) == sorted((_score(t) for t in _by_index(tune)), reverse=True)
    for summary in summaries:
        assert re.fullmatch(rf"{name}-00[1-6]-[0-9a-f]{{8}}", summary["TrainingJobName"])
        assert summary["TuningJobName"] == name
        assert summary["ObjectiveStatus"] == "Succeeded"
        # Each training job's model is where get_top_model_s3_uri points.
        model = state.s3_path(
            f"s3://{BUCKET}/{MODELS}/{summary['TrainingJobName']}/output/model.tar.gz"
        )
        with tarfile.open(model) as tar:
            trained = json.load(tar.extractfile("model.json"))
        assert trained["hps"]["mode"] == summary["TunedHyperParameters"]["mode"]
        assert trained["hps"]["offset"] == OFFSET  # the static hyperparameter reached it
    best = tune["BestTrainingJob"]
    assert best == summaries[0]
    assert best["TunedHyperParameters"] == {"mode": "b", "depth": "3"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Maximize",
        "MetricName": "objective",
        "Value": 6.5,  # the last `objective:` line, not the epoch one
    }
    assert tune["TrainingJobStatusCounters"]["Completed"] == 6
    assert tune["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    log = _log(state, execution)
    assert f"===== tuning job {name}: Grid, 6 training jobs, up to " in log
    assert "SageMaker's Grid accepts only categorical ranges" in log
    # Children ran in their own sandboxes, removed with the step's.
    assert not (state.execution_dir(execution.id) / "sandbox" / "Tune" / "attempt-1").exists()


def test_minimize_puts_the_lowest_objective_first(state: LocalState, tmp_path: Path) -> None:
    execution = _run(state, _build(GRID, objective_type="Minimize", max_jobs=6), tmp_path)
    tune = _tune(state, execution)
    assert tune["BestTrainingJob"]["TunedHyperParameters"] == {"mode": "a", "depth": "1"}
    assert tune["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "objective",
        "Value": 1.5,
    }
    assert _values(tune) == sorted(_values(tune))
    assert len(_values(tune)) == 6


def test_max_number_of_training_jobs_caps_the_grid(state: LocalState, tmp_path: Path) -> None:
    execution = _run(state, _build(GRID, max_jobs=4, max_parallel=1), tmp_path)
    tune = _tune(state, execution)
    assert _by_index(tune) == [
        {"mode": "a", "depth": "1"},
        {"mode": "a", "depth": "2"},
        {"mode": "a", "depth": "3"},
        {"mode": "b", "depth": "1"},
    ]
    assert tune["BestTrainingJob"]["TunedHyperParameters"] == {"mode": "a", "depth": "3"}
    log = _log(state, execution)
    assert "Grid has 6 combinations; MaxNumberOfTrainingJobs 4 runs the first 4" in log
    assert "up to 1 at a time (MaxParallelTrainingJobs 1)" in log


def test_random_search_is_reproducible_and_within_bounds(state: LocalState, tmp_path: Path) -> None:
    text = _build(RANDOM, strategy="Random", max_jobs=5, max_parallel=3)
    first = _tune(state, _run(state, text, tmp_path))
    second_execution = _run(state, text, tmp_path)
    second = _tune(state, second_execution)

    assert len(first["TrainingJobSummaries"]) == 5
    assert _by_index(first) == _by_index(second)
    assert first["HyperParameterTuningJobName"] != second["HyperParameterTuningJobName"]
    for tuned in _by_index(first):
        assert 1e-4 <= float(tuned["lr"]) <= 1e-1
        assert 0.1 <= float(tuned["momentum"]) <= 0.9
    assert len({t["lr"] for t in _by_index(first)}) == 5
    assert _values(first) == sorted(_values(first), reverse=True)
    parallel = min(3, os.cpu_count() or 1)
    log = _log(state, second_execution)
    assert f"Random, 5 training jobs, up to {parallel} at a time (MaxParallelTrainingJobs 3)" in log
    assert re.search(r"===== tuning: Random search, seed \d+", log)


def test_random_seed_decides_the_values(state: LocalState, tmp_path: Path) -> None:
    runs = {
        seed: _by_index(
            _tune(
                state,
                _run(
                    state,
                    _build(RANDOM, strategy="Random", max_jobs=3, random_seed=seed),
                    tmp_path,
                ),
            )
        )
        for seed in (7, 8)
    }
    # The definitions differ (the SDK stamps a job name), yet the seed alone decides.
    again = _tune(
        state, _run(state, _build(RANDOM, strategy="Random", max_jobs=3, random_seed=7), tmp_path)
    )
    assert _by_index(again) == runs[7]
    assert runs[7] != runs[8]


def test_sampling_follows_the_scaling_type() -> None:
    rng = random.Random(1)

    def draw(item: tuning._Range, count: int = 400) -> list[float]:
        return [float(tuning._sample(item, rng)) for _ in range(count)]

    log_values = draw(tuning._Range("lr", "Continuous", low=1e-4, high=1e-1, scaling="Logarithmic"))
    linear = draw(tuning._Range("lr", "Continuous", low=1e-4, high=1e-1, scaling="Linear"))
    reverse = draw(
        tuning._Range("beta", "Continuous", low=0.9, high=0.9999, scaling="ReverseLogarithmic")
    )
    integers = draw(tuning._Range("n", "Integer", low=1, high=1000, scaling="Logarithmic"))
    middle = math.sqrt(1e-4 * 1e-1)  # the geometric midpoint
    assert all(1e-4 <= v <= 1e-1 for v in log_values + linear)
    assert 0.4 < sum(v < middle for v in log_values) / 400 < 0.6
    assert sum(v < middle for v in linear) / 400 < 0.1
    assert all(0.9 <= v <= 0.9999 for v in reverse)
    assert 0.4 < sum(v > 1 - math.sqrt(0.1 * 0.0001) for v in reverse) / 400 < 0.6
    assert all(v.is_integer() and 1 <= v <= 1000 for v in integers)
    assert 0.35 < sum(v < math.sqrt(1000) for v in integers) / 400 < 0.65


def test_failing_and_silent_training_jobs_count_as_failed(
    state: LocalState, tmp_path: Path
) -> None:
    ranges = {"mode": CategoricalParameter(["a", "b", "c"]), "depth": IntegerParameter(1, 2)}
    text = _build(ranges, max_jobs=6, static={"fail_mode": "c", "silent_mode": "b"})
    execution = _run(state, text, tmp_path)
    assert execution.status == SUCCEEDED
    tune = _tune(state, execution)

    summaries = tune["TrainingJobSummaries"]
    statuses = [(s["TunedHyperParameters"]["mode"], s["TrainingJobStatus"]) for s in summaries]
    assert statuses[:2] == [("a", "Completed"), ("a", "Completed")]
    assert sorted(statuses[2:]) == [("b", "Failed")] * 2 + [("c", "Failed")] * 2
    assert tune["BestTrainingJob"]["TunedHyperParameters"] == {"mode": "a", "depth": "2"}
    failed = {s["TunedHyperParameters"]["mode"]: s for s in summaries[2:]}
    assert re.fullmatch(
        'AlgorithmError: ExecuteUserScriptError: ExitCode 1 ErrorMessage "" Command '
        f'"{re.escape(sys.executable)} -- train.py --depth [12] --fail_mode c --mode c '
        r'--offset 0.5 --silent_mode b" \(last output: RuntimeError: mode c is broken\)',
        failed["c"]["FailureReason"],
    ), failed["c"]["FailureReason"]
    assert "objective metric 'objective' was not found" in failed["b"]["FailureReason"]
    assert all(s["ObjectiveStatus"] == "Failed" for s in failed.values())
    assert all("FinalHyperParameterTuningJobObjectiveMetric" not in s for s in failed.values())
    assert tune["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 4}
    assert tune["TrainingJobStatusCounters"]["NonRetryableError"] == 4
    assert "(last output: RuntimeError: mode c is broken)" in _log(state, execution)


def test_all_training_jobs_failing_fails_the_step_in_one_line(
    state: LocalState, tmp_path: Path
) -> None:
    text = _build(GRID, max_jobs=2, static={"fail_mode": "all"}, downstream=True)
    execution = _run(state, text, tmp_path)

    assert execution.status == FAILED
    reason = execution.steps["Tune"].failure_reason
    assert "\n" not in reason
    assert re.fullmatch(
        r"Tuning job Tune-[0-9a-f]{12} failed: all 2 training jobs failed; "
        r"Tune-[0-9a-f]{12}-001-[0-9a-f]{8}: AlgorithmError: ExecuteUserScriptError: ExitCode 1 "
        r'ErrorMessage "" Command ".*train\.py .*" \(last output: RuntimeError: mode a is broken\)',
        reason,
    ), reason
    assert execution.failure_reason == f"Step Tune failed: {reason}"
    assert execution.steps["Check"].status == NOT_EXECUTED
    assert execution.steps["Consume"].status == NOT_EXECUTED


def test_bayesian_is_approximated_by_random_search_and_says_so(
    state: LocalState, tmp_path: Path
) -> None:
    ranges = {**RANDOM, "mode": CategoricalParameter(["a", "b"])}
    text = _build(ranges, strategy="Bayesian", max_jobs=3, early_stopping="Auto")
    execution = _run(state, text, tmp_path)
    tune = _tune(state, execution)
    assert len(tune["TrainingJobSummaries"]) == 3
    assert tune["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian"
    log = _log(state, execution)
    notes = [line for line in log.splitlines() if line.startswith("===== tuning: ")]
    assert any(
        re.fullmatch(
            r"===== tuning: Bayesian search is approximated by Random search \(seed \d+\)", n
        )
        for n in notes
    ), notes
    assert "===== tuning: TrainingJobEarlyStoppingType Auto: early stopping is Off locally" in notes


def test_downstream_steps_read_the_top_models_and_the_best_objective(
    state: LocalState, tmp_path: Path
) -> None:
    text = _build(GRID, max_jobs=6, downstream=True)
    passed = _run(state, text, tmp_path, {"Threshold": "6.5"})
    assert passed.status == SUCCEEDED, (passed.failure_reason, _log(state, passed, "Consume"))
    assert passed.steps["Check"].properties == {"Outcome": True}
    assert passed.steps["TooLow"].status == NOT_EXECUTED
    report = json.loads(state.s3_path(f"{PREFIX}/report/report.json").read_text())
    assert report["best"]["score"] == 6.5
    assert (report["best"]["hps"]["mode"], report["best"]["hps"]["depth"]) == ("b", 3)
    assert report["runner-up"]["score"] == 4.5
    inputs = passed.steps["Consume"].properties["ProcessingInputs"]
    best_name = passed.steps["Tune"].properties["TrainingJobSummaries"][0]["TrainingJobName"]
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in inputs if i["InputName"] == "best"} == {
        "best": f"s3://{BUCKET}/{MODELS}/{best_name}/output/model.tar.gz"
    }

    rejected = _run(state, text, tmp_path, {"Threshold": "7"})
    assert rejected.status == FAILED
    assert rejected.failure_reason == "best objective 6.5 is below 7.0"
    assert rejected.steps["Consume"].status == NOT_EXECUTED


def test_a_cached_tuning_step_serves_its_properties(state: LocalState, tmp_path: Path) -> None:
    text = _build(GRID, max_jobs=2, cache=True)
    first = _run(state, text, tmp_path)
    second = _run(state, text, tmp_path)
    assert _tune(state, first) == _tune(state, second)
    assert second.steps["Tune"].cache_source == first.id
    assert first.steps["Tune"].cache_source is None


def test_reaching_the_target_objective_stops_launching_jobs(
    state: LocalState, tmp_path: Path
) -> None:
    execution = _run(state, _build(GRID, max_jobs=6, max_parallel=1, target=3.5), tmp_path)
    tune = _tune(state, execution)
    assert _by_index(tune) == [{"mode": "a", "depth": str(depth)} for depth in (1, 2, 3)]
    assert "reached TargetObjectiveMetricValue 3.5; 3 training jobs not started" in _log(
        state, execution
    )


def test_several_training_job_definitions_take_turns(state: LocalState, tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        estimators = {
            name: Estimator(
                role=ROLE,
                image_uri=IMAGE,
                entry_point="train.py",
                source_dir=f"{PREFIX}/code/sourcedir.tar.gz",
                hyperparameters={"offset": offset},
                output_path=f"s3://{BUCKET}/{MODELS}",
                disable_profiler=True,
                debugger_hook_config=False,
                sagemaker_session=session,
                instance_count=1,
                instance_type="ml.m5.large",
            )
            for name, offset in (("low", 0), ("high", 10))
        }
        tuner = HyperparameterTuner.create(
            estimator_dict=estimators,
            objective_metric_name_dict={"low": "objective", "high": "objective"},
            hyperparameter_ranges_dict={
                "low": {"depth": IntegerParameter(1, 3)},
                "high": {"mode": CategoricalParameter(["a", "b"])},
            },
            metric_definitions_dict={"low": METRICS, "high": METRICS},
            strategy="Random",
            max_jobs=4,
            max_parallel_jobs=2,
        )
        data = {"train": TrainingInput(s3_data=f"{PREFIX}/data")}
        step = TuningStep(
            name="Tune",
            step_args=tuner.fit(
                inputs={"low": data, "high": data},
                include_cls_metadata={"low": False, "high": False},
            ),
        )
        text = Pipeline(
            name=PIPELINE,
            steps=[step],
            sagemaker_session=session,
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
        ).definition()
    tune = _tune(state, _run(state, text, tmp_path))
    summaries = sorted(tune["TrainingJobSummaries"], key=lambda s: s["TrainingJobName"])
    # The SDK sorts the definitions by name: high, low, high, low.
    assert [s["TrainingJobDefinitionName"] for s in summaries] == ["high", "low"] * 2
    assert [set(s["TunedHyperParameters"]) for s in summaries] == [{"mode"}, {"depth"}] * 2
    assert tune["BestTrainingJob"]["TrainingJobDefinitionName"] == "high"
    assert tune["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] >= 11


def test_a_grid_over_a_continuous_range_is_refused(state: LocalState, tmp_path: Path) -> None:
    execution = _run(state, _build(RANDOM, max_jobs=2), tmp_path)
    assert execution.status == FAILED
    assert execution.steps["Tune"].failure_reason == (
        "ClientError: Grid search cannot enumerate the continuous range lr; use categorical values"
    )


def _request(**config: Any) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "loss"},
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {},
            "AlgorithmSpecification": {"MetricDefinitions": METRICS, "TrainingImage": IMAGE},
        },
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "objective metric 'loss' is not among the MetricDefinitions (objective)"),
        ({"Strategy": "Genetic"}, "Strategy 'Genetic' is not one of Random, Grid"),
        (
            {"ParameterRanges": {"AutoParameters": [{"Name": "lr", "ValueHint": "0.1"}]}},
            "AutoParameters (Autotune) cannot run locally",
        ),
        (
            {
                "ParameterRanges": {
                    "IntegerParameterRanges": [
                        {"Name": "n", "MinValue": "1", "MaxValue": "4", "ScalingType": "Reverse"}
                    ]
                }
            },
            "Integer range n: ScalingType 'Reverse' is not one of",
        ),
        (
            {
                "ParameterRanges": {
                    "ContinuousParameterRanges": [
                        {
                            "Name": "lr",
                            "MinValue": "0",
                            "MaxValue": "1",
                            "ScalingType": "Logarithmic",
                        }
                    ]
                }
            },
            "Continuous range lr: Logarithmic scaling needs MinValue > 0",
        ),
    ],
)
def test_requests_that_cannot_run_are_refused_in_one_line(
    config: dict[str, Any], message: str, tmp_path: Path
) -> None:
    request = _request(**config)
    if "ParameterRanges" in config or "Strategy" in config:
        request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {
            "Type": "Maximize",
            "MetricName": "objective",
        }
    with pytest.raises(StepFailure) as failure:
        tuning.run(None, request)  # type: ignore[arg-type]  # refused before any job starts
    assert failure.value.reason.startswith("ClientError: ")
    assert message in failure.value.reason
    assert "\n" not in failure.value.reason
