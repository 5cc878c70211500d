"""`@step` functions (the SDK's pipelines from Python functions), built by the real SDK into
definitions and run by the local executor through the SDK's own remote-function runtime: the
function and its arguments deserialized from the state folder, its return value read by later
steps and conditions, its exception as the step's failure, dependencies and pre-execution
commands honoured.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.function_step import step
from sagemaker.workflow.parameters import ParameterInteger
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig

from sm_pipelines.local.execution import FAILED, NOT_EXECUTED, SUCCEEDED, Execution
from sm_pipelines.local.plan import load_definition
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.s3_endpoint import s3_endpoint
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.session import state_session
from sm_pipelines.local.state import LocalState

IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/functions:latest"
ROLE = "arn:aws:iam::000000000000:role/runner"
SETTINGS = {"role": ROLE, "image_uri": IMAGE, "instance_type": "ml.m5.large"}
NAMESPACE, WHY_NOT = namespace_prefix()

pytestmark = pytest.mark.skipif(
    NAMESPACE is None, reason=f"@step jobs need /opt/ml mounted: {WHY_NOT}"
)


def _run(tmp_path: Path, steps: list[Any], **pipeline: Any) -> tuple[Execution, LocalState]:
    """Build the pipeline with the state session (the SDK uploads the functions into the state
    folder, as it would to S3), then run its definition JSON locally."""
    state = LocalState(tmp_path / "state")
    with state_session(state.root, bucket="functions") as session:
        text = Pipeline(
            name="functions",
            steps=steps,
            sagemaker_session=session,
            pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
            **pipeline,
        ).definition()
    return _execute(tmp_path, state, text), state


def _execute(tmp_path: Path, state: LocalState, text: str) -> Execution:
    definition = load_definition(text, "functions")
    runner = Runner(
        state,
        definition,
        "functions",
        RunSettings(cwd=tmp_path, sleep=lambda _s: None, namespace=NAMESPACE),
    )
    return runner.start(definition.typed_parameters({}))


def _result(state: LocalState, execution: Execution, name: str) -> Any:
    """A step's return value as the SDK reads it back (`deserialize_obj_from_s3`)."""
    from sagemaker.remote_function.core.serialization import deserialize_obj_from_s3

    path = execution.steps[name].properties["OutputDataConfig"]["S3OutputPath"]
    with state_session(state.root) as session:
        return deserialize_obj_from_s3(session, path)


def _json_result(state: LocalState, execution: Execution, name: str) -> Any:
    """What `DelayedReturn` compiles to: JsonGet on <S3OutputPath>/results.json."""
    path = execution.steps[name].properties["OutputDataConfig"]["S3OutputPath"]
    return json.loads(state.s3_path(f"{path}/results.json").read_text())["Result"]


def test_a_return_value_feeds_the_next_step(tmp_path: Path) -> None:
    @step(name="make", **SETTINGS)
    def make(base: int) -> dict[str, Any]:
        return {"value": base * 2, "items": [base, base + 1]}

    @step(name="use", **SETTINGS)
    def use(made: dict[str, Any], first: int) -> str:
        return f"{made['value']}-{first}-{os.getcwd().endswith('workspace')}"

    base = ParameterInteger(name="Base", default_value=5)
    made = make(base)
    execution, state = _run(tmp_path, [use(made, made["items"][0])], parameters=[base])
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert _json_result(state, execution, "make") == {"value": 10, "items": [5, 6]}
    assert _result(state, execution, "use") == "10-5-True"
    assert not state.s3_path(
        execution.steps["use"].properties["OutputDataConfig"]["S3OutputPath"] + "/results.json"
    ).exists()  # the SDK writes JSON only for a return value another step reads


@pytest.mark.parametrize(("base", "branch"), [(7, "High"), (2, "Low")])
def test_a_condition_on_a_return_value_takes_the_right_branch(
    tmp_path: Path, base: int, branch: str
) -> None:
    @step(name="score", **SETTINGS)
    def score(value: int) -> dict[str, float]:
        return {"accuracy": value / 10}

    accuracy = score(base)["accuracy"]
    high = FailStep(name="High", error_message="high")
    low = FailStep(name="Low", error_message="low")
    check = ConditionStep(
        name="Check",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=0.5)],
        if_steps=[high],
        else_steps=[low],
    )
    execution, _ = _run(tmp_path, [check])
    assert execution.steps["score"].status == SUCCEEDED
    assert execution.steps["Check"].properties == {"Outcome": branch == "High"}
    assert execution.failure_reason == branch.lower()
    other = "Low" if branch == "High" else "High"
    assert execution.steps[other].status == NOT_EXECUTED


def test_an_exception_is_the_step_failure_reason(tmp_path: Path) -> None:
    @step(name="explode", **SETTINGS)
    def explode(limit: int) -> int:
        raise ValueError(f"limit {limit} is too low\nsee the docs")

    @step(name="after", **SETTINGS)
    def after(value: int) -> int:
        return value

    execution, state = _run(tmp_path, [after(explode(3))])
    assert execution.status == FAILED
    record = execution.steps["explode"]
    assert record.failure_reason == (
        "AlgorithmError: ValueError('limit 3 is too low\\nsee the docs')"
    )
    assert execution.steps["after"].status == NOT_EXECUTED
    # The SDK's runtime also stored the exception itself, as in S3.
    exceptions = list(state.s3_root.glob("functions/functions/*/explode/exception/payload.pkl"))
    assert len(exceptions) == 1


def test_dependencies_already_in_the_image_are_satisfied(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("PyYAML>=5\n# a comment\nboto3\n")

    @step(name="dump", dependencies=str(requirements), **SETTINGS)
    def dump(value: int) -> str:
        import yaml

        return yaml.safe_dump({"value": value}).strip()

    execution, state = _run(tmp_path, [dump(4)])
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert _result(state, execution, "dump") == "value: 4"
    log = (state.execution_dir(execution.id) / "logs" / "dump.log").read_text()
    assert "pip: already satisfied" in log


def test_a_dependency_that_cannot_be_installed_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: no package index to reach
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("no-such-package-sm-pipelines==9.9\n")

    @step(name="needs", dependencies=str(requirements), **SETTINGS)
    def needs() -> int:
        return 1

    execution, _ = _run(tmp_path, [needs()])
    reason = execution.steps["needs"].failure_reason
    assert execution.status == FAILED
    assert reason.startswith(
        "AlgorithmError: RuntimeEnvironmentError: pip: cannot install "
        "no-such-package-sm-pipelines==9.9"
    ), reason
    assert "\n" not in reason


def test_pre_execution_commands_run_before_the_function(tmp_path: Path) -> None:
    @step(
        name="greet",
        pre_execution_commands=["echo hello from setup > greeting.txt", "export IGNORED=1"],
        **SETTINGS,
    )
    def greet() -> str:
        with open("greeting.txt", encoding="utf-8") as handle:
            return handle.read().strip()

    execution, state = _run(tmp_path, [greet()])
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert _result(state, execution, "greet") == "hello from setup"


def test_a_failing_pre_execution_command_fails_the_step(tmp_path: Path) -> None:
    @step(name="setup", pre_execution_commands=["exit 3"], **SETTINGS)
    def setup() -> int:
        return 1

    execution, _ = _run(tmp_path, [setup()])
    reason = execution.steps["setup"].failure_reason
    assert reason.startswith(
        "AlgorithmError: RuntimeEnvironmentError: Encountered error while running "
        "pre-execution commands"
    ), reason


def test_a_definition_built_against_moto_runs_once_its_objects_are_in_the_state(
    tmp_path: Path, fake_aws: None
) -> None:
    """Built inside moto.mock_aws, as a test of an AWS-bound pipeline would build it: the
    SDK's uploads land in moto's bucket and are copied into the state folder to run."""
    from moto import mock_aws
    from sagemaker.workflow.pipeline_context import PipelineSession

    @step(name="square", **SETTINGS)
    def square(value: int) -> int:
        return value * value

    state = LocalState(tmp_path / "state")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="moto-bucket")
        session = PipelineSession(
            boto_session=boto3.Session(region_name="us-east-1"), default_bucket="moto-bucket"
        )
        text = Pipeline(name="functions", steps=[square(9)], sagemaker_session=session).definition()
        with s3_endpoint(state.s3_root) as url:
            local = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
            local.create_bucket(Bucket="moto-bucket")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="moto-bucket"):
                for item in page.get("Contents", []):
                    body = s3.get_object(Bucket="moto-bucket", Key=item["Key"])["Body"].read()
                    local.put_object(Bucket="moto-bucket", Key=item["Key"], Body=body)
    execution = _execute(tmp_path, state, text)
    assert execution.status == SUCCEEDED, execution.failure_reason
    assert _result(state, execution, "square") == 81


def test_a_definition_whose_uploads_are_missing_says_how_to_build_it(tmp_path: Path) -> None:
    @step(name="lost", **SETTINGS)
    def lost() -> int:
        return 1

    state = LocalState(tmp_path / "state")
    with state_session(state.root, bucket="functions") as session:
        text = Pipeline(name="functions", steps=[lost()], sagemaker_session=session).definition()
    shutil.rmtree(state.s3_root)
    execution = _execute(tmp_path, state, text)
    reason = execution.steps["lost"].failure_reason
    assert reason.startswith("ClientError: channel sagemaker_remote_function_bootstrap:"), reason
    assert "state_session" in reason


def test_the_s3_endpoint_is_the_state_folder(tmp_path: Path) -> None:
    """What boto3 and the SDK do through the endpoint lands in, and comes from, <state>/s3."""
    root = tmp_path / "s3"
    with s3_endpoint(root) as url:
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # pragma: allowlist secret
        )
        s3.create_bucket(Bucket="b")
        s3.put_object(Bucket="b", Key="a/one.txt", Body=b"hello")
        (root / "b/a/two").mkdir(parents=True)
        (root / "b/a/two/three.txt").write_bytes(b"written by a step")
        listing = s3.list_objects_v2(Bucket="b", Prefix="a/", Delimiter="/")
        assert [o["Key"] for o in listing["Contents"]] == ["a/one.txt"]
        assert listing["CommonPrefixes"] == [{"Prefix": "a/two/"}]
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket="b", PaginationConfig={"PageSize": 1}
        )
        assert [o["Key"] for p in pages for o in p["Contents"]] == ["a/one.txt", "a/two/three.txt"]
        assert (
            s3.get_object(Bucket="b", Key="a/two/three.txt", Range="bytes=8-9")["Body"].read()
            == b"by"
        )
        big = os.urandom(9 * 1024 * 1024)  # above boto3's multipart threshold
        s3.upload_file(str(_write(tmp_path / "big", big)), "b", "big/blob")
        assert (root / "b/big/blob").read_bytes() == big
        s3.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "a/one.txt"}]})
        assert not (root / "b/a/one.txt").exists()
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket="b", Key="a/one.txt")
    assert not (tmp_path / ".s3-multipart").exists() or not any(
        (tmp_path / ".s3-multipart").iterdir()
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
