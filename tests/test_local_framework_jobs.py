"""Framework images as the SDK uses them, in definitions the real SDK builds (its uploads land in
the state folder through `state_session`): a scikit-learn estimator in script mode, run by the
sagemaker-training toolkit with a requirements.txt; a FrameworkProcessor whose generated
`runproc.sh` installs requirements and runs the code from /opt/ml/processing/input/code; a
framework model registered with an entry point, whose SDK-added repack job puts the code into
the registered artifact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sagemaker.inputs import TrainingInput
from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
from sagemaker.pytorch.model import PyTorchModel
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from sm_pipelines.local import registry
from sm_pipelines.local.execution import FAILED, SUCCEEDED, Execution
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.session import state_session
from sm_pipelines.local.state import LocalState
from tests.local_definitions import run_sdk_pipeline, untar

pytest.importorskip("sagemaker_training")

BUCKET = "frameworks"
PREFIX = f"s3://{BUCKET}/p"
ROLE = "arn:aws:iam::000000000000:role/runner"
NAMESPACE, WHY_NOT = namespace_prefix()
needs_namespace = pytest.mark.skipif(NAMESPACE is None, reason=f"no mount namespace: {WHY_NOT}")
# Offline, as a machine with no index: a requirement that is not installed cannot be had.
OFFLINE = {"PIP_NO_INDEX": "1"}
MISSING = "no-such-package-sm-pipelines==9.9"

TRAIN = """\
import argparse, json, os
import six  # from requirements.txt

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--label", type=str)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
args = parser.parse_args()
rows = open("/opt/ml/input/data/train/rows.csv").read().split()
hps = json.load(open("/opt/ml/input/config/hyperparameters.json"))
report = {
    "alpha": args.alpha,
    "label": args.label,
    "rows": len(rows),
    "channel": os.environ["SM_CHANNEL_TRAIN"],
    "hps": json.loads(os.environ["SM_HPS"]),
    "program": hps["sagemaker_program"],
}
with open(os.path.join(args.model_dir, "model.json"), "w") as out:
    json.dump(report, out)
print(f"rmse={args.alpha / 2}")
"""

PROCESS = """\
import json, os, sys
import six  # from requirements.txt
from helper import double

values = [int(v) for v in open("/opt/ml/processing/input/data/values.txt").read().split()]
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/result.json", "w") as out:
    report = {"doubled": [double(v) for v in values], "cwd": os.getcwd(), "argv": sys.argv[1:]}
    json.dump(report, out)
"""

INFERENCE = """\
import json, os

def model_fn(model_dir):
    return json.load(open(os.path.join(model_dir, "model.json")))
"""


def _source(tmp_path: Path, name: str, files: dict[str, str]) -> str:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    return str(folder)


def _run(
    state: LocalState, tmp_path: Path, pipeline: Pipeline, env: dict[str, str] | None = None
) -> Execution:
    data = {f"{PREFIX}/data/rows.csv": b"1\n2\n3\n", f"{PREFIX}/data/values.txt": b"1 2 3\n"}
    return run_sdk_pipeline(
        state, pipeline, tmp_path, data, namespace=NAMESPACE, environment=env or {}
    )


def _members(state: LocalState, uri: str) -> dict[str, str]:
    return untar(state.s3_path(uri))


def _estimator(session: Any, source_dir: str) -> SKLearn:
    return SKLearn(
        entry_point="train.py",
        source_dir=source_dir,
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"{PREFIX}/model",
        hyperparameters={"alpha": 0.5, "label": "first run"},
        metric_definitions=[{"Name": "rmse", "Regex": r"rmse=([0-9.]+)"}],
        sagemaker_session=session,
    )


def _training_pipeline(session: Any, source_dir: str) -> tuple[Pipeline, TrainingStep]:
    train = TrainingStep(
        name="Train",
        step_args=_estimator(session, source_dir).fit(
            {"train": TrainingInput(f"{PREFIX}/data", content_type="text/csv")}
        ),
    )
    return Pipeline(name="frameworks", steps=[train], sagemaker_session=session), train


@needs_namespace
def test_a_sklearn_estimator_runs_through_the_toolkit(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "state")
    source = _source(tmp_path, "src", {"train.py": TRAIN, "requirements.txt": "six\n"})
    with state_session(state.root, bucket=BUCKET) as session:
        pipeline, _ = _training_pipeline(session, source)
        execution = _run(state, tmp_path, pipeline, OFFLINE)
    assert execution.status == SUCCEEDED, execution.failure_reason
    train = execution.steps["Train"].properties
    report = json.loads(_members(state, train["ModelArtifacts"]["S3ModelArtifacts"])["model.json"])
    assert report == {
        "alpha": 0.5,
        "label": "first run",
        "rows": 3,
        "channel": "/opt/ml/input/data/train",
        "hps": {"alpha": 0.5, "label": "first run"},
        # hyperparameters.json holds the request's values: the SDK's JSON-encoded text
        "program": '"train.py"',
    }
    assert train["FinalMetricDataList"] == [{"MetricName": "rmse", "Value": 0.25}]
    log = (state.execution_dir(execution.id) / "logs" / "Train.log").read_text()
    assert "Installing dependencies from requirements.txt" in log
    assert "pip: already satisfied: six" in log


@needs_namespace
def test_a_requirement_that_cannot_be_had_fails_the_training_job_in_one_line(
    tmp_path: Path,
) -> None:
    state = LocalState(tmp_path / "state")
    source = _source(tmp_path, "src", {"train.py": TRAIN, "requirements.txt": f"{MISSING}\n"})
    with state_session(state.root, bucket=BUCKET) as session:
        pipeline, _ = _training_pipeline(session, source)
        execution = _run(state, tmp_path, pipeline, OFFLINE)
    assert execution.status == FAILED
    reason = execution.steps["Train"].failure_reason
    assert reason.startswith("AlgorithmError: InstallRequirementsError:"), reason
    assert f"pip: cannot install {MISSING}" in reason and "\n" not in reason


def _processing_pipeline(session: Any, source_dir: str) -> Pipeline:
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
    )
    step = ProcessingStep(
        name="Process",
        step_args=processor.run(
            code="process.py",
            source_dir=source_dir,
            arguments=["--mode", "double"],
            inputs=[
                ProcessingInput(
                    source=f"{PREFIX}/data", destination="/opt/ml/processing/input/data"
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="result",
                    source="/opt/ml/processing/output",
                    destination=f"{PREFIX}/result",
                )
            ],
        ),
    )
    return Pipeline(name="frameworks", steps=[step], sagemaker_session=session)


@needs_namespace
def test_a_framework_processor_runs_its_launcher_with_requirements(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "state")
    files = {
        "process.py": PROCESS,
        "helper.py": "def double(v):\n    return 2 * v\n",
        "requirements.txt": "six\n",
    }
    with state_session(state.root, bucket=BUCKET) as session:
        pipeline = _processing_pipeline(session, _source(tmp_path, "code", files))
        definition = json.loads(pipeline.definition())
        execution = _run(state, tmp_path, pipeline, OFFLINE)
    entrypoint = definition["Steps"][0]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint[0] == "/bin/bash" and entrypoint[1].endswith("runproc.sh")
    assert execution.status == SUCCEEDED, execution.failure_reason
    result = json.loads(state.s3_path(f"{PREFIX}/result/result.json").read_text())
    assert result == {
        "doubled": [2, 4, 6],
        "cwd": "/opt/ml/processing/input/code",
        "argv": ["--mode", "double"],
    }


@needs_namespace
def test_a_framework_processor_requirement_that_cannot_be_had_is_one_line(
    tmp_path: Path,
) -> None:
    state = LocalState(tmp_path / "state")
    files = {"process.py": PROCESS, "helper.py": "", "requirements.txt": f"{MISSING}\n"}
    with state_session(state.root, bucket=BUCKET) as session:
        pipeline = _processing_pipeline(session, _source(tmp_path, "code", files))
        execution = _run(state, tmp_path, pipeline, OFFLINE)
    assert execution.status == FAILED
    reason = execution.steps["Process"].failure_reason
    assert f"pip: cannot install {MISSING}" in reason and "\n" not in reason


@needs_namespace
def test_a_framework_model_registered_with_an_entry_point_is_repacked(tmp_path: Path) -> None:
    state = LocalState(tmp_path / "state")
    source = _source(tmp_path, "src", {"train.py": TRAIN, "requirements.txt": "six\n"})
    serve = _source(tmp_path, "serve", {"inference.py": INFERENCE})
    with state_session(state.root, bucket=BUCKET) as session:
        pipeline, train = _training_pipeline(session, source)
        # A PyTorch model with an entry point is repacked at run time (the SDK adds the job).
        model = PyTorchModel(
            model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
            entry_point="inference.py",
            source_dir=serve,
            framework_version="2.1",
            py_version="py310",
            role=ROLE,
            sagemaker_session=session,
        )
        register = ModelStep(
            name="Register",
            step_args=model.register(
                content_types=["application/json"],
                response_types=["application/json"],
                inference_instances=["ml.m5.large"],
                model_package_group_name="frameworks",
                approval_status="Approved",
            ),
        )
        pipeline = Pipeline(name="frameworks", steps=[train, register], sagemaker_session=session)
        definition = json.loads(pipeline.definition())
        execution = _run(state, tmp_path, pipeline, OFFLINE)
    repack = next(
        s["Name"] for s in definition["Steps"] if s["Type"] == "Training" and "Repack" in s["Name"]
    )
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert execution.steps[repack].status == SUCCEEDED
    (version,) = registry.versions(state, "frameworks")
    artifact = version["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    repacked = execution.steps[repack].properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == repacked
    members = _members(state, artifact)
    assert "code/inference.py" in members and "model.json" in members
    assert members["code/inference.py"] == INFERENCE


def test_objects_built_without_a_session_use_the_state(tmp_path: Path) -> None:
    # As the abalone example builds its steps: no sagemaker_session anywhere, so each object
    # makes a plain Session of its own; the code it uploads still lands in the state.
    state = LocalState(tmp_path / "state")
    script = tmp_path / "count.py"
    script.write_text("print('counted')\n")
    with state_session(state.root) as _session:
        processor = SKLearnProcessor(
            framework_version="1.2-1",
            role=ROLE,
            instance_type="ml.m5.large",
            instance_count=1,
        )
        step = ProcessingStep(name="Count", processor=processor, code=str(script))
        definition = json.loads(Pipeline(name="plain", steps=[step]).definition())
    code = definition["Steps"][0]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert code.startswith("s3://sagemaker-local/") and code.endswith("/count.py")
    assert state.s3_path(code).read_text() == "print('counted')\n"
