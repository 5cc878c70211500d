"""Jobs run as their container would: /opt/ml is the job's own (a private mount namespace), so
scripts that use literal container paths, shell launchers and `pip install -r requirements.txt`
work unchanged, and nothing reaches the host's /opt/ml. Without namespaces the executor rewrites
paths instead, which these tests show the limit of. Definitions are built with the SDK.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from sagemaker.estimator import Estimator
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from sm_pipelines.compile.session import offline_session
from sm_pipelines.local.execution import FAILED, SUCCEEDED, Execution
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.state import LocalState
from tests.local_definitions import run_sdk_pipeline

BUCKET = "sandbox"
PREFIX = f"s3://{BUCKET}/p"
ROLE = "arn:aws:iam::000000000000:role/runner"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/local:latest"
NAMESPACE, WHY_NOT = namespace_prefix()
needs_namespace = pytest.mark.skipif(NAMESPACE is None, reason=f"no mount namespace: {WHY_NOT}")

LITERAL = """\
import os
rows = open("/opt/ml/processing/input/data/data.csv").read().split()
os.makedirs("/opt/ml/processing/output/result", exist_ok=True)
open("/opt/ml/processing/output/result/sum.txt", "w").write(str(sum(map(int, rows))))
open("/opt/ml/escape.txt", "w").write("stays in the sandbox")
"""


def _run(
    tmp_path: Path, pipeline: Pipeline, files: dict[str, bytes], mode: str
) -> tuple[Execution, LocalState]:
    state = LocalState(tmp_path / "state")
    namespace = NAMESPACE if mode == "namespace" else None
    return run_sdk_pipeline(state, pipeline, tmp_path, files, namespace=namespace), state


def _literal_pipeline(session: Any) -> Pipeline:
    processor = ScriptProcessor(
        role=ROLE,
        image_uri=IMAGE,
        command=["python3"],
        instance_count=1,
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    step = ProcessingStep(
        name="Sum",
        step_args=processor.run(
            code=f"{PREFIX}/code/literal.py",
            inputs=[
                ProcessingInput(
                    source=f"{PREFIX}/data", destination="/opt/ml/processing/input/data"
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="result",
                    source="/opt/ml/processing/output/result",
                    destination=f"{PREFIX}/result",
                )
            ],
        ),
    )
    return Pipeline(
        name="literal",
        steps=[step],
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
    )


FILES = {f"{PREFIX}/code/literal.py": LITERAL.encode(), f"{PREFIX}/data/data.csv": b"1\n2\n3\n"}


@needs_namespace
def test_a_script_with_literal_container_paths_runs_unchanged(tmp_path: Path) -> None:
    host_escape = Path("/opt/ml/escape.txt")
    host_escape.unlink(missing_ok=True)
    with offline_session("us-east-1", BUCKET) as session:
        execution, state = _run(tmp_path, _literal_pipeline(session), FILES, "namespace")
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert state.s3_path(f"{PREFIX}/result/sum.txt").read_text() == "6"
    # What the job wrote under /opt/ml stayed in its sandbox, never on the host.
    assert not host_escape.exists()


def test_without_a_namespace_literal_paths_fail_and_say_where(tmp_path: Path) -> None:
    with offline_session("us-east-1", BUCKET) as session:
        execution, _ = _run(tmp_path, _literal_pipeline(session), FILES, "rewrite")
    assert execution.status == FAILED
    reason = execution.steps["Sum"].failure_reason
    assert reason.startswith("AlgorithmError: exit code 1: FileNotFoundError")
    assert "/opt/ml/processing/input/data/data.csv" in reason


RUNPROC = """\
#!/bin/bash
# As the SDK's FrameworkProcessor launcher does: cd into the code, install, run.
set -e
cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz
if [[ -f 'requirements.txt' ]]; then
    pip install -r requirements.txt
fi
python main.py "$@"
"""
MAIN = """\
import yaml, sys
print("loaded", yaml.__name__, sys.argv[1:])
open("/opt/ml/processing/output/out/ok.txt", "w").write("ran with " + " ".join(sys.argv[1:]))
"""


def _sourcedir(requirements: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("main.py", MAIN), ("requirements.txt", requirements)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _launcher_pipeline(session: Any, env: dict[str, str] | None = None) -> Pipeline:
    processor = ScriptProcessor(
        role=ROLE,
        image_uri=IMAGE,
        command=["/bin/bash"],
        instance_count=1,
        instance_type="ml.m5.large",
        env=env,
        sagemaker_session=session,
    )
    step = ProcessingStep(
        name="Framework",
        step_args=processor.run(
            code=f"{PREFIX}/code/runproc.sh",
            inputs=[
                ProcessingInput(
                    input_name="source",
                    source=f"{PREFIX}/source/sourcedir.tar.gz",
                    destination="/opt/ml/processing/input/code/",
                )
            ],
            outputs=[
                ProcessingOutput(
                    output_name="out",
                    source="/opt/ml/processing/output/out",
                    destination=f"{PREFIX}/out",
                )
            ],
            arguments=["--alpha", "1"],
        ),
    )
    return Pipeline(
        name="launcher",
        steps=[step],
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
    )


@needs_namespace
def test_a_shell_launcher_installs_requirements_once_and_runs(tmp_path: Path) -> None:
    files = {
        f"{PREFIX}/code/runproc.sh": RUNPROC.encode(),
        f"{PREFIX}/source/sourcedir.tar.gz": _sourcedir("pyyaml>=5\n"),
    }
    with offline_session("us-east-1", BUCKET) as session:
        execution, state = _run(tmp_path, _launcher_pipeline(session), files, "namespace")
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert state.s3_path(f"{PREFIX}/out/ok.txt").read_text() == "ran with --alpha 1"
    log = next((state.root / "executions").glob("*/logs/Framework.log")).read_text()
    assert "pip: already satisfied: pyyaml>=5" in log


@needs_namespace
def test_a_requirement_that_cannot_be_had_is_one_line(tmp_path: Path) -> None:
    files = {
        f"{PREFIX}/code/runproc.sh": RUNPROC.encode(),
        f"{PREFIX}/source/sourcedir.tar.gz": _sourcedir("no-such-package-sm-pipelines==9.9\n"),
    }
    with offline_session("us-east-1", BUCKET) as session:
        # No index: the run stays off the network, as on a machine without one.
        pipeline = _launcher_pipeline(session, env={"PIP_NO_INDEX": "1"})
        execution, _ = _run(tmp_path, pipeline, files, "namespace")
    assert execution.status == FAILED
    reason = execution.steps["Framework"].failure_reason
    assert reason.startswith(
        "AlgorithmError: exit code 1: pip: cannot install no-such-package-sm-pipelines==9.9 ("
    )


LAUNCHER = """\
#!/bin/sh
# A training image's shell launcher (the SDK's repack job uses one): paths are the container's.
set -e
test -f /opt/ml/input/config/hyperparameters.json
python /opt/ml/code/train.py "$@"
"""
TRAIN = """\
import json, os
hps = json.load(open("/opt/ml/input/config/hyperparameters.json"))
open("/opt/ml/model/model.json", "w").write(json.dumps({"seen": sorted(hps)}))
"""


@needs_namespace
def test_a_training_shell_launcher_runs_under_its_shell(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("launch.sh", LAUNCHER), ("train.py", TRAIN)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with offline_session("us-east-1", BUCKET) as session:
        estimator = Estimator(
            role=ROLE,
            image_uri=IMAGE,
            entry_point="launch.sh",
            source_dir=f"{PREFIX}/code/sourcedir.tar.gz",
            output_path=f"{PREFIX}/models",
            instance_count=1,
            instance_type="ml.m5.large",
            disable_profiler=True,
            debugger_hook_config=False,
            hyperparameters={"depth": 3},
            sagemaker_session=session,
        )
        pipeline = Pipeline(
            name="launch",
            steps=[TrainingStep(name="Train", step_args=estimator.fit())],
            sagemaker_session=session,
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
        )
        execution, state = _run(
            tmp_path, pipeline, {f"{PREFIX}/code/sourcedir.tar.gz": buffer.getvalue()}, "namespace"
        )
    assert execution.status == SUCCEEDED, execution.failure_reason
    model = execution.steps["Train"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(state.s3_path(model)) as tar:
        seen = tar.extractfile("model.json").read().decode()
    assert '"depth"' in seen
