"""The local executor runs a definition built by the real SageMaker SDK, not a hand-written one.

The pipeline: Preprocess (Processor) -> Train (script-mode Estimator) -> Evaluate (Processor with
a PropertyFile) -> CheckScore (JsonGet >= ParameterFloat) -> Register (ModelStep) or TooLow
(FailStep with a Join message). Built inside `offline_session` with sockets refused, run by
`Runner` against a LocalState in tmp_path, with tiny scripts staged into the local S3.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from sm_pipelines.compile.session import offline_session
from sm_pipelines.local import registry
from sm_pipelines.local.execution import FAILED, NOT_EXECUTED, SUCCEEDED, Execution
from sm_pipelines.local.plan import PipelineDefinition, load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.state import LocalState

PIPELINE = "sdk-pipeline"
BUCKET = "my-bucket"
PREFIX = f"s3://{BUCKET}/sdk"
ROLE = "arn:aws:iam::000000000000:role/local-runner"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/local:latest"
GROUP = "sdk-models"
CODE_DIR = "/opt/ml/processing/input/code"

# Rows "split,value". Train mean is 2.0; with Scale 2.0 the model's weight is 4.0, and three of
# the four test values (1, 2, 3 but not 5) fall below it: score 0.75, exact in binary floating
# point so the Fail message's text is predictable.
RAW_DATA = "train,1\ntrain,2\ntrain,3\ntest,1\ntest,2\ntest,3\ntest,5\n"
EXPECTED_WEIGHT = 4.0
EXPECTED_SCORE = 0.75

PREPROCESS = """\
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--train-dir", required=True)
parser.add_argument("--test-dir", required=True)
args = parser.parse_args()
# Container paths passed as arguments must have been rewritten into the sandbox.
assert not args.train_dir.startswith("/opt/ml/"), args.train_dir
raw = os.path.join(os.environ["SM_ML_ROOT"], "processing", "input", "raw", "data.csv")
rows = [line.split(",") for line in open(raw).read().split()]
for split, folder in (("train", args.train_dir), ("test", args.test_dir)):
    with open(os.path.join(folder, split + ".csv"), "w") as out:
        out.write("".join(value + "\\n" for kind, value in rows if kind == split))
print("preprocessed", len(rows), "rows")
"""

TRAIN = """\
import argparse, json, os
from helpers import mean
parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()
hps = json.loads(os.environ["SM_HPS"])
assert float(hps["scale"]) == args.scale and int(hps["epochs"]) == args.epochs, hps
channel = os.environ["SM_CHANNEL_TRAIN"]
values = [float(v) for v in open(os.path.join(channel, "train.csv")).read().split()]
model = {"weight": mean(values) * args.scale, "epochs": args.epochs}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
    json.dump(model, out)
print("trained", model)
"""

HELPERS = """\
def mean(values):
    return sum(values) / len(values)
"""

EVALUATE = """\
import json, os, tarfile
root = os.path.join(os.environ["SM_ML_ROOT"], "processing")
with tarfile.open(os.path.join(root, "model", "model.tar.gz")) as tar:
    model = json.load(tar.extractfile("model.json"))
values = [float(v) for v in open(os.path.join(root, "test", "test.csv")).read().split()]
score = sum(1 for v in values if v < model["weight"]) / len(values)
out_dir = os.environ["EVALUATION_DIR"]
assert not out_dir.startswith("/opt/ml/"), out_dir
with open(os.path.join(out_dir, "evaluation.json"), "w") as out:
    json.dump({"metrics": {"score": score}}, out)
print("score", score)
"""


def _refuse_network(monkeypatch: pytest.MonkeyPatch, attempts: list[object]) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network is forbidden in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _build_definition() -> str:
    """The pipeline, built with the SDK's own classes; returns pipeline.definition()."""
    with offline_session("us-east-1", BUCKET) as session:
        threshold = ParameterFloat(name="Threshold", default_value=0.5)
        scale = ParameterFloat(name="Scale", default_value=2.0)
        approval = ParameterString(name="ApprovalStatus", default_value="PendingManualApproval")
        machine = {"instance_count": 1, "instance_type": "ml.m5.large"}

        preprocessor = Processor(
            role=ROLE,
            image_uri=IMAGE,
            entrypoint=["python3", f"{CODE_DIR}/preprocess.py"],
            sagemaker_session=session,
            **machine,
        )
        preprocess = ProcessingStep(
            name="Preprocess",
            step_args=preprocessor.run(
                inputs=[
                    ProcessingInput(
                        input_name="code", source=f"{PREFIX}/code/preprocess", destination=CODE_DIR
                    ),
                    ProcessingInput(
                        input_name="raw",
                        source=f"{PREFIX}/raw",
                        destination="/opt/ml/processing/input/raw",
                    ),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name=name,
                        source=f"/opt/ml/processing/{name}",
                        destination=f"{PREFIX}/data/{name}",
                    )
                    for name in ("train", "test")
                ],
                arguments=[
                    "--train-dir",
                    "/opt/ml/processing/train",
                    "--test-dir",
                    "/opt/ml/processing/test",
                ],
            ),
        )
        prepared = preprocess.properties.ProcessingOutputConfig.Outputs

        estimator = Estimator(
            role=ROLE,
            image_uri=IMAGE,
            entry_point="train.py",
            source_dir=f"{PREFIX}/code/sourcedir.tar.gz",
            hyperparameters={"scale": scale, "epochs": 3},
            output_path=f"{PREFIX}/models",
            disable_profiler=True,
            debugger_hook_config=False,
            sagemaker_session=session,
            **machine,
        )
        train = TrainingStep(
            name="Train",
            step_args=estimator.fit(
                inputs={"train": TrainingInput(s3_data=prepared["train"].S3Output.S3Uri)}
            ),
        )
        model_data = train.properties.ModelArtifacts.S3ModelArtifacts

        report = PropertyFile(
            name="EvaluationReport", output_name="evaluation", path="evaluation.json"
        )
        evaluator = Processor(
            role=ROLE,
            image_uri=IMAGE,
            entrypoint=["python3", f"{CODE_DIR}/evaluate.py"],
            env={"EVALUATION_DIR": "/opt/ml/processing/evaluation"},
            sagemaker_session=session,
            **machine,
        )
        evaluate = ProcessingStep(
            name="Evaluate",
            step_args=evaluator.run(
                inputs=[
                    ProcessingInput(
                        input_name="code", source=f"{PREFIX}/code/evaluate", destination=CODE_DIR
                    ),
                    ProcessingInput(
                        input_name="model",
                        source=model_data,
                        destination="/opt/ml/processing/model",
                    ),
                    ProcessingInput(
                        input_name="test",
                        source=prepared["test"].S3Output.S3Uri,
                        destination="/opt/ml/processing/test",
                    ),
                ],
                outputs=[
                    ProcessingOutput(
                        output_name="evaluation",
                        source="/opt/ml/processing/evaluation",
                        destination=f"{PREFIX}/evaluation",
                    )
                ],
            ),
            property_files=[report],
        )
        score = JsonGet(step_name=evaluate.name, property_file=report, json_path="metrics.score")

        model = Model(image_uri=IMAGE, model_data=model_data, role=ROLE, sagemaker_session=session)
        register = ModelStep(
            name="Register",
            step_args=model.register(
                content_types=["text/csv"],
                response_types=["text/csv"],
                inference_instances=["ml.m5.large"],
                transform_instances=["ml.m5.large"],
                model_package_group_name=GROUP,
                approval_status=approval,
            ),
        )
        too_low = FailStep(
            name="TooLow",
            error_message=Join(on=" ", values=["score", score, "is below threshold", threshold]),
        )
        check = ConditionStep(
            name="CheckScore",
            conditions=[ConditionGreaterThanOrEqualTo(left=score, right=threshold)],
            if_steps=[register],
            else_steps=[too_low],
        )
        pipeline = Pipeline(
            name=PIPELINE,
            parameters=[threshold, scale, approval],
            steps=[preprocess, train, evaluate, check],
            sagemaker_session=session,
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
        )
        return pipeline.definition()


@pytest.fixture(scope="module")
def definition_text() -> str:
    attempts: list[object] = []
    with pytest.MonkeyPatch.context() as patch:
        _refuse_network(patch, attempts)
        text = _build_definition()
    assert attempts == [], "building the definition tried to open a connection"
    return text


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []
    _refuse_network(monkeypatch, attempts)
    return attempts


@pytest.fixture
def state(tmp_path: Path) -> LocalState:
    """A local state with the raw data and every step's code staged into its S3."""
    local = LocalState(tmp_path / "state")
    local.put_bytes(f"{PREFIX}/raw/data.csv", RAW_DATA.encode())
    local.put_bytes(f"{PREFIX}/code/preprocess/preprocess.py", PREPROCESS.encode())
    local.put_bytes(f"{PREFIX}/code/evaluate/evaluate.py", EVALUATE.encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("train.py", TRAIN), ("helpers.py", HELPERS)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    local.put_bytes(f"{PREFIX}/code/sourcedir.tar.gz", buffer.getvalue())
    return local


STEP_NAMES = {"Preprocess", "Train", "Evaluate", "CheckScore", "Register-RegisterModel", "TooLow"}


def _run(
    state: LocalState, definition: PipelineDefinition, tmp_path: Path, overrides: dict[str, str]
) -> Execution:
    settings = RunSettings(cwd=tmp_path, max_parallel=2, sleep=lambda seconds: None)
    runner = Runner(state, definition, PIPELINE, settings)
    return runner.start(definition.typed_parameters(overrides))


def _statuses(execution: Execution) -> dict[str, str]:
    return {name: record.status for name, record in execution.steps.items()}


def _logs(state: LocalState, execution: Execution) -> str:
    logs = state.execution_dir(execution.id) / "logs"
    return "\n".join(p.read_text() for p in sorted(logs.glob("*.log"))) if logs.is_dir() else ""


def test_sdk_definition_has_the_shape_the_executor_schedules(definition_text: str) -> None:
    definition = load_definition(definition_text, "test")
    assert set(definition.steps) == STEP_NAMES
    assert {name: node.type for name, node in definition.steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckScore": "Condition",
        "Register-RegisterModel": "RegisterModel",
        "TooLow": "Fail",
    }
    steps = definition.steps
    assert steps["Train"].depends_on == {"Preprocess"}
    assert steps["Evaluate"].depends_on == {"Preprocess", "Train"}
    assert steps["CheckScore"].depends_on == {"Evaluate"}
    assert steps["Register-RegisterModel"].gate == ("CheckScore", True)
    assert steps["TooLow"].gate == ("CheckScore", False)
    assert {"Evaluate", "CheckScore"} <= steps["TooLow"].depends_on
    assert "CacheConfig" not in definition_text
    assert set(definition.parameters) == {"Threshold", "Scale", "ApprovalStatus"}


def test_passing_score_registers_the_model(
    definition_text: str, state: LocalState, tmp_path: Path, no_network: list[object]
) -> None:
    definition = load_definition(definition_text, "test")
    # The threshold equals the score: GreaterThanOrEqualTo must take the if-branch.
    overrides = {"Threshold": str(EXPECTED_SCORE), "ApprovalStatus": "Approved"}
    execution = _run(state, definition, tmp_path, overrides)

    assert execution.status == SUCCEEDED, (execution.failure_reason, _logs(state, execution))
    assert execution.failure_reason is None
    assert _statuses(execution) == {
        "Preprocess": SUCCEEDED,
        "Train": SUCCEEDED,
        "Evaluate": SUCCEEDED,
        "CheckScore": SUCCEEDED,
        "Register-RegisterModel": SUCCEEDED,
        "TooLow": NOT_EXECUTED,
    }
    assert execution.parameters == {
        "Threshold": EXPECTED_SCORE,
        "Scale": 2.0,
        "ApprovalStatus": "Approved",
    }

    # Training: the artifact is where the properties say, packed from SM_MODEL_DIR.
    train = execution.steps["Train"].properties
    model_uri = train["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri.startswith(f"{PREFIX}/models/")
    assert model_uri.endswith("/output/model.tar.gz")
    with tarfile.open(state.s3_path(model_uri)) as tar:
        trained = json.load(tar.extractfile("model.json"))
    assert trained == {"weight": EXPECTED_WEIGHT, "epochs": 3}
    # The pipeline parameter inside the hyperparameters reached the job as text, like AWS.
    assert train["HyperParameters"]["scale"] == "2.0"

    # Evaluation wrote the property file and the condition read it.
    report = state.s3_path(f"{PREFIX}/evaluation/evaluation.json")
    assert json.loads(report.read_text()) == {"metrics": {"score": EXPECTED_SCORE}}
    assert execution.steps["CheckScore"].properties == {"Outcome": True}

    versions = registry.versions(state, GROUP)
    assert len(versions) == 1
    version = versions[0]
    assert version["ModelApprovalStatus"] == "Approved"
    assert version["ModelPackageVersion"] == 1
    assert version["PipelineExecutionId"] == execution.id
    containers = version["InferenceSpecification"]["Containers"]
    assert [c["ModelDataUrl"] for c in containers] == [model_uri]
    assert state.s3_path(containers[0]["ModelDataUrl"]).is_file()
    register = execution.steps["Register-RegisterModel"].properties
    assert register["ModelPackageArn"].endswith(f":model-package/{GROUP}/1")
    assert no_network == []


def test_failing_score_runs_the_fail_step_with_its_message(
    definition_text: str, state: LocalState, tmp_path: Path, no_network: list[object]
) -> None:
    definition = load_definition(definition_text, "test")
    passed = _run(state, definition, tmp_path, {})
    assert passed.status == SUCCEEDED, (passed.failure_reason, _logs(state, passed))
    before = registry.versions(state, GROUP)
    assert [v["ModelApprovalStatus"] for v in before] == ["PendingManualApproval"]

    execution = _run(state, definition, tmp_path, {"Threshold": "0.9"})

    assert execution.status == FAILED
    assert execution.failure_reason == f"score {EXPECTED_SCORE} is below threshold 0.9"
    assert _statuses(execution) == {
        "Preprocess": SUCCEEDED,
        "Train": SUCCEEDED,
        "Evaluate": SUCCEEDED,
        "CheckScore": SUCCEEDED,
        "Register-RegisterModel": NOT_EXECUTED,
        "TooLow": FAILED,
    }
    assert execution.steps["CheckScore"].properties == {"Outcome": False}
    assert execution.steps["TooLow"].failure_reason == execution.failure_reason
    assert registry.versions(state, GROUP) == before
    assert no_network == []


def test_rerunning_without_cache_config_runs_every_job_again(
    definition_text: str, state: LocalState, tmp_path: Path, no_network: list[object]
) -> None:
    definition = load_definition(definition_text, "test")
    first = _run(state, definition, tmp_path, {})
    second = _run(state, definition, tmp_path, {})

    for execution in (first, second):
        assert execution.status == SUCCEEDED, (execution.failure_reason, _logs(state, execution))
        for name in ("Preprocess", "Train", "Evaluate", "Register-RegisterModel"):
            record = execution.steps[name]
            assert record.cache_source is None, name
            assert record.attempts == 1, name
    assert first.id != second.id

    def job(execution: Execution, step: str, key: str) -> Any:
        return execution.steps[step].properties[key]

    for step, key in (("Preprocess", "ProcessingJobName"), ("Train", "TrainingJobName")):
        assert second.id in job(second, step, key)
        assert job(first, step, key) != job(second, step, key)
    first_model = job(first, "Train", "ModelArtifacts")["S3ModelArtifacts"]
    second_model = job(second, "Train", "ModelArtifacts")["S3ModelArtifacts"]
    assert first_model != second_model
    assert state.s3_path(first_model).is_file() and state.s3_path(second_model).is_file()
    assert not state.cache_dir.exists()
    versions = registry.versions(state, GROUP)
    assert [v["ModelPackageVersion"] for v in versions] == [1, 2]
    assert [v["PipelineExecutionId"] for v in versions] == [first.id, second.id]
    assert no_network == []


def test_job_scripts_saw_sandbox_paths_not_container_paths(
    definition_text: str, state: LocalState, tmp_path: Path
) -> None:
    """Preprocess asserts its --train-dir was rewritten; a job reading /opt/ml would fail."""
    definition = load_definition(definition_text, "test")
    execution = _run(state, definition, tmp_path, {})
    assert execution.status == SUCCEEDED, (execution.failure_reason, _logs(state, execution))
    logs = _logs(state, execution)
    assert "preprocessed 7 rows" in logs
    assert f"score {EXPECTED_SCORE}" in logs
    data = state.s3_path(f"{PREFIX}/data")
    assert (data / "train" / "train.csv").read_text().split() == ["1", "2", "3"]
    assert (data / "test" / "test.csv").read_text().split() == ["1", "2", "3", "5"]
