"""The deploy job. In AWS: create in moto; blue/green update, rollback and failure paths with
botocore's Stubber where moto stops (it has no update_endpoint). Locally: the endpoint record,
its history, health checks and refusals."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from components.common import local_endpoints
from components.common.job import JobError
from components.common.model_registry import ModelPackage
from components.deploy import __main__ as deploy_job
from components.deploy import autoscaling, local_endpoint
from components.deploy.sagemaker_endpoint import Deployer
from sm_pipelines.local import registry
from sm_pipelines.local.state import LocalState
from tests.components.model.conftest import one_line_failure, run_component

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/llm-twin-staging-sagemaker-execution"
ENDPOINT = "llm-twin-staging"
OLD = "llm-twin-staging-v1-20260101-000000"
NEW = "llm-twin-staging-v2-20260102-030405"  # what the deployer names v2 at NOW
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}"
SCALING = {
    "AUTOSCALING_MIN_CAPACITY": "1",
    "AUTOSCALING_MAX_CAPACITY": "4",
    "AUTOSCALING_TARGET_INVOCATIONS": "70",
}


def package(version: int = 2, status: str = "Approved") -> ModelPackage:
    return ModelPackage(
        arn=f"arn:aws:sagemaker:{REGION}:123456789012:model-package/llm-twin-staging/{version}",
        group="llm-twin-staging",
        version=version,
        status=status,
        model_data_url=f"s3://bucket/train/{version}/model.tar.gz",
        instance_types=("ml.g5.xlarge",),
    )


# ---- AWS: create in moto ---------------------------------------------------------------------


@pytest.fixture
def aws(fake_aws: None) -> Iterator[dict[str, Any]]:
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName="llm-twin-staging")
        yield {
            "sagemaker": sagemaker,
            "scaling": boto3.client("application-autoscaling", region_name=REGION),
        }


def moto_package(sagemaker: Any, status: str, instance_type: str = "ml.g4dn.xlarge") -> str:
    # moto's instance-type list predates g5, so the moto tests serve on g4dn.
    return sagemaker.create_model_package(
        ModelPackageGroupName="llm-twin-staging",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/llm-twin-serving:1",
                    "ModelDataUrl": "s3://bucket/train/1/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": [instance_type],
        },
        ModelApprovalStatus=status,
    )["ModelPackageArn"]


def deploy_main(arn: str) -> int:
    return deploy_job.main(
        ["--model-package-arn", arn, "--endpoint-name", ENDPOINT, "--role-arn", ROLE]
    )


def test_first_deploy_creates_the_endpoint_with_autoscaling(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in SCALING.items():
        monkeypatch.setenv(key, value)
    arn = moto_package(aws["sagemaker"], "Approved")
    assert deploy_main(arn) == 0
    sagemaker = aws["sagemaker"]
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic" and variant["InstanceType"] == "ml.g4dn.xlarge"
    assert variant["InitialInstanceCount"] == 1
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == arn
    assert model["ExecutionRoleArn"] == ROLE

    scaling = aws["scaling"]
    resource = f"endpoint/{ENDPOINT}/variant/AllTraffic"
    target = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in target] == [
        (resource, 1, 4)
    ]
    policy = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling" and tracking["TargetValue"] == 70
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert f"deploy: created endpoint {ENDPOINT} with " in capsys.readouterr().out


def test_config_the_service_refuses_leaves_no_model_behind(aws: dict[str, Any]) -> None:
    arn = moto_package(aws["sagemaker"], "Approved", instance_type="ml.nonexistent")
    with pytest.raises(JobError, match=r"AWS call failed: .*CreateEndpointConfig"):
        deploy_main(arn)
    assert aws["sagemaker"].list_models()["Models"] == []
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []


def test_pending_version_is_not_deployed_and_the_step_succeeds(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    arn = moto_package(aws["sagemaker"], "PendingManualApproval")
    assert deploy_main(arn) == 0
    assert "not deployed" in capsys.readouterr().out
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []
    assert aws["sagemaker"].list_models()["Models"] == []


def test_rejected_version_is_refused(aws: dict[str, Any]) -> None:
    arn = moto_package(aws["sagemaker"], "Rejected")
    with pytest.raises(JobError, match=r"refusing to deploy .* it is Rejected, not Approved"):
        deploy_main(arn)
    assert aws["sagemaker"].list_models()["Models"] == []


def test_half_configured_autoscaling_stops_before_any_change(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOSCALING_MAX_CAPACITY", "4")
    arn = moto_package(aws["sagemaker"], "Approved")
    with pytest.raises(JobError, match="half configured: AUTOSCALING_MIN_CAPACITY, AUTOSCALING"):
        deploy_main(arn)
    assert aws["sagemaker"].list_models()["Models"] == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**SCALING, "AUTOSCALING_MIN_CAPACITY": "5"}, "1 <= AUTOSCALING_MIN_CAPACITY (5) <="),
        ({**SCALING, "AUTOSCALING_TARGET_INVOCATIONS": "lots"}, "'lots' is not a valid float"),
        ({**SCALING, "AUTOSCALING_TARGET_INVOCATIONS": "-1"}, "must be > 0"),
    ],
)
def test_bad_autoscaling_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(JobError, match=message.replace("(", r"\(").replace(")", r"\)")):
        autoscaling.from_environment(env)


# ---- AWS: update, rollback and failures with Stubber ----------------------------------------


class Calls:
    """A stubbed SageMaker client: expected calls in order, with their exact parameters."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "sagemaker",
            region_name=REGION,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        self.stub = Stubber(self.client)
        self.stub.activate()

    def ok(self, method: str, response: dict[str, Any], params: Any = None) -> Calls:
        self.stub.add_response(method, response, params)
        return self

    def error(self, method: str, code: str, message: str) -> Calls:
        self.stub.add_client_error(method, code, message, 400)
        return self

    def endpoint(self, status: str, config: str, reason: str | None = None) -> Calls:
        body: dict[str, Any] = {
            "EndpointName": ENDPOINT,
            "EndpointArn": ENDPOINT_ARN,
            "EndpointConfigName": config,
            "EndpointStatus": status,
            "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
            "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
            "ProductionVariants": [
                {"VariantName": "AllTraffic", "CurrentInstanceCount": 3, "DesiredInstanceCount": 3}
            ],
        }
        if reason:
            body["FailureReason"] = reason
        return self.ok("describe_endpoint", body, {"EndpointName": ENDPOINT})

    def missing(self) -> Calls:
        return self.error("describe_endpoint", "ValidationException", "Could not find endpoint")

    def new_model_and_config(self, count: int = 3) -> Calls:
        self.ok(
            "create_model",
            {"ModelArn": "arn:aws:sagemaker:eu-west-1:123456789012:model/m"},
            {
                "ModelName": NEW,
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {"ModelPackageName": package().arn},
            },
        )
        return self.ok(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/c"},
            {
                "EndpointConfigName": NEW,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": NEW,
                        "InstanceType": "ml.g5.xlarge",
                        "InitialInstanceCount": count,
                    }
                ],
            },
        )

    def cleanup(self) -> Calls:
        """Removing what this deploy created: the new config and model, never the old."""
        self.ok("delete_endpoint_config", {}, {"EndpointConfigName": NEW})
        return self.ok("delete_model", {}, {"ModelName": NEW})


def deployer(calls: Calls, scaling_client: Any = None, **kwargs: Any) -> Deployer:
    return Deployer(
        calls.client,
        scaling_client,
        poll_seconds=0,
        sleep=lambda _: None,
        log=lambda line: None,
        now=lambda: NOW,
        **kwargs,
    )


def blue_green_update(timeout: int = 3600) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": NEW,
        "RetainAllVariantProperties": False,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                "TerminationWaitInSeconds": 300,
                "MaximumExecutionTimeoutInSeconds": timeout,
            }
        },
    }


def test_update_is_blue_green_keeps_the_old_config_and_rescales() -> None:
    calls = (
        Calls()
        .endpoint("InService", OLD)
        .new_model_and_config(count=3)  # the green fleet starts as large as the blue one
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, blue_green_update())
        .endpoint("Updating", OLD)
        .endpoint("InService", NEW)
    )
    scaling = boto3.client(
        "application-autoscaling",
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    scaling_stub = Stubber(scaling)
    resource = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling_stub.add_response(
        "describe_scalable_targets",
        {
            "ScalableTargets": [
                {
                    **resource,
                    "MinCapacity": 1,
                    "MaxCapacity": 4,
                    "RoleARN": "arn:aws:iam::123456789012:role/x",
                    "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                }
            ]
        },
        {
            "ServiceNamespace": "sagemaker",
            "ResourceIds": [resource["ResourceId"]],
            "ScalableDimension": resource["ScalableDimension"],
        },
    )
    scaling_stub.add_response("deregister_scalable_target", {}, resource)
    scaling_stub.add_response(
        "register_scalable_target", {}, {**resource, "MinCapacity": 1, "MaxCapacity": 4}
    )
    scaling_stub.add_response(
        "put_scaling_policy",
        {"PolicyARN": "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:p", "Alarms": []},
        {
            **resource,
            "PolicyName": f"{ENDPOINT}-invocations-per-instance",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        },
    )
    scaling_stub.activate()

    policy = autoscaling.from_environment(SCALING)
    outcome = deployer(calls, scaling).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", policy)
    assert outcome == f"updated endpoint {ENDPOINT} blue/green to {NEW} (kept {OLD} for rollback)"
    calls.stub.assert_no_pending_responses()  # and no delete of the old config was made
    scaling_stub.assert_no_pending_responses()


def test_endpoint_stuck_in_failed_is_rolled_back_and_the_step_fails() -> None:
    calls = (
        Calls()
        .endpoint("InService", OLD)
        .new_model_and_config()
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, blue_green_update())
        .endpoint("Updating", OLD)
        .endpoint("Failed", NEW, reason="health check failed")
        .ok(
            "update_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {"EndpointName": ENDPOINT, "EndpointConfigName": OLD},
        )
        .endpoint("Updating", OLD)
        .endpoint("InService", OLD)
        .cleanup()
    )
    with pytest.raises(JobError) as caught:
        deployer(calls).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)
    message = str(caught.value)
    assert message == (
        f"endpoint {ENDPOINT} went Failed on {NEW} (health check failed); rolled back to {OLD}"
    )
    calls.stub.assert_no_pending_responses()


def test_failed_endpoint_that_refuses_updates_is_recreated_from_the_old_config() -> None:
    calls = (
        Calls()
        .endpoint("InService", OLD)
        .new_model_and_config()
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, blue_green_update())
        .endpoint("Failed", NEW, reason="out of capacity")
        .error("update_endpoint", "ValidationException", "Cannot update a Failed endpoint")
        .ok("delete_endpoint", {}, {"EndpointName": ENDPOINT})
        .missing()
        .ok(
            "create_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {"EndpointName": ENDPOINT, "EndpointConfigName": OLD},
        )
        .endpoint("InService", OLD)
        .cleanup()
    )
    with pytest.raises(JobError, match=f"rolled back to {OLD}"):
        deployer(calls).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)
    calls.stub.assert_no_pending_responses()


def test_rollback_that_fails_too_says_the_endpoint_needs_attention() -> None:
    calls = (
        Calls()
        .endpoint("InService", OLD)
        .new_model_and_config()
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, blue_green_update())
        .endpoint("Failed", NEW, reason="bad image")
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, None)
        .endpoint("Failed", OLD, reason="still bad")
    )
    with pytest.raises(JobError, match=r"rolling back to .* failed too .*needs attention"):
        deployer(calls).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)


def test_sagemaker_own_rollback_is_reported_and_the_new_config_removed() -> None:
    calls = (
        Calls()
        .endpoint("InService", OLD)
        .new_model_and_config()
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, blue_green_update())
        .endpoint("InService", OLD, reason="alarm fired during baking")
        .cleanup()
    )
    with pytest.raises(JobError, match=f"SageMaker kept it on {OLD}"):
        deployer(calls).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)
    calls.stub.assert_no_pending_responses()


def test_failed_create_removes_everything_it_made() -> None:
    calls = (
        Calls()
        .missing()
        .new_model_and_config(count=1)
        .ok(
            "create_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {"EndpointName": ENDPOINT, "EndpointConfigName": NEW},
        )
        .endpoint("Creating", NEW)
        .endpoint("Failed", NEW, reason="image not found")
        .ok("delete_endpoint", {}, {"EndpointName": ENDPOINT})
        .missing()
        .cleanup()
    )
    with pytest.raises(JobError, match=r"failed to create \(image not found\); removed it"):
        deployer(calls).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)
    calls.stub.assert_no_pending_responses()


def test_endpoint_failed_from_before_is_replaced() -> None:
    calls = (
        Calls()
        .endpoint("Failed", OLD, reason="earlier failure")
        .ok("delete_endpoint", {}, {"EndpointName": ENDPOINT})
        .endpoint("Deleting", OLD)
        .missing()
        .new_model_and_config(count=1)
        .ok(
            "create_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {"EndpointName": ENDPOINT, "EndpointConfigName": NEW},
        )
        .endpoint("InService", NEW)
    )
    outcome = deployer(calls).deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)
    assert outcome == f"created endpoint {ENDPOINT} with {NEW}"
    calls.stub.assert_no_pending_responses()


def test_update_that_outlives_the_timeout_fails_without_touching_it() -> None:
    ticks = iter(range(0, 10_000, 100))
    calls = (
        Calls()
        .endpoint("InService", OLD)
        .new_model_and_config()
        .ok("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, blue_green_update(timeout=600))
    )
    for _ in range(4):
        calls.endpoint("Updating", OLD)
    run = deployer(calls, timeout_seconds=300, clock=lambda: next(ticks))
    with pytest.raises(JobError, match=r"still Updating after 300 s; SageMaker rolls back"):
        run.deploy(package(), ENDPOINT, ROLE, "ml.g5.xlarge", None)


# ---- local endpoints -------------------------------------------------------------------------


def local_package(state: Path, model: Path | None, status: str = "Approved") -> str:
    local = LocalState(state)
    version = len(registry.versions(local, "llm-twin-local")) + 1
    uri = f"s3://llm-twin-local/train/{version}/model.tar.gz"
    archive = local.s3_path(uri)
    archive.parent.mkdir(parents=True, exist_ok=True)
    if model is None:
        archive.write_bytes(b"not a model")
    else:
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(model.iterdir()):
                tar.add(path, arcname=path.name)
    return registry.register(
        local,
        "llm-twin-local",
        {
            "ModelApprovalStatus": status,
            "InferenceSpecification": {"Containers": [{"ModelDataUrl": uri}]},
        },
        "us-east-1",
        "000000000000",
    )["ModelPackageArn"]


def local_deploy(state: Path, arn: str, endpoint: str = "llm-twin-local") -> Any:
    return run_component(
        "deploy",
        state.parent,
        "--model-package-arn",
        arn,
        "--endpoint-name",
        endpoint,
        env={"SM_PIPELINES_LOCAL_STATE": str(state)},
    )


def test_local_deploy_records_the_endpoint_and_its_history(tmp_path: Path, tiny_base: Path) -> None:
    state = tmp_path / "state"
    first = local_package(state, tiny_base)
    done = local_deploy(state, first)
    assert done.returncode == 0, done.stderr
    assert "serve it with: python -m components.serving.model_server --state" in done.stdout
    record = local_endpoints.read(state, "llm-twin-local")
    assert record["EndpointStatus"] == "InService" and record["ModelPackageArn"] == first
    assert Path(record["ModelPath"], "config.json").is_file()
    assert record["PreviousEndpointConfigName"] is None

    second = local_package(state, tiny_base)
    assert local_deploy(state, second).returncode == 0
    updated = local_endpoints.read(state, "llm-twin-local")
    assert updated["ModelPackageArn"] == second
    assert updated["PreviousEndpointConfigName"] == record["EndpointConfigName"]
    assert [e["ModelPackageArn"] for e in updated["ConfigHistory"]] == [first, second]
    assert updated["CreationTime"] == record["CreationTime"]
    assert Path(record["ModelPath"]).is_dir()  # the rollback target stays unpacked


def test_local_model_that_fails_its_health_check_changes_nothing(
    tmp_path: Path, tiny_base: Path
) -> None:
    state = tmp_path / "state"
    assert local_deploy(state, local_package(state, tiny_base)).returncode == 0
    path = local_endpoints.record_path(state, "llm-twin-local")
    before = path.read_bytes()
    models = local_endpoints.folder(state) / "llm-twin-local" / "models"
    folders = sorted(models.iterdir())

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # unloadable
    done = local_deploy(state, local_package(state, broken))
    one_line_failure(done, "deploy", "failed its health check")
    assert "endpoint llm-twin-local is unchanged" in done.stderr
    assert path.read_bytes() == before and sorted(models.iterdir()) == folders

    done = local_deploy(state, local_package(state, None))
    one_line_failure(done, "deploy", "is not a readable model archive")
    assert path.read_bytes() == before and sorted(models.iterdir()) == folders


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        ("PendingManualApproval", 0, "not deployed"),
        ("Rejected", 1, "it is Rejected, not Approved"),
    ],
)
def test_local_refuses_versions_that_are_not_approved(
    tmp_path: Path, tiny_base: Path, status: str, code: int, message: str
) -> None:
    state = tmp_path / "state"
    done = local_deploy(state, local_package(state, tiny_base, status))
    assert done.returncode == code and message in done.stdout + done.stderr
    assert local_endpoints.read(state, "llm-twin-local") is None


@pytest.mark.parametrize(
    ("arn", "endpoint", "message"),
    [
        ("nope", "llm-twin-local", "is not a model package version ARN"),
        (
            "arn:aws:sagemaker:us-east-1:000000000000:model-package/llm-twin-local/9",
            "llm-twin-local",
            "is not in the local registry",
        ),
        (None, "../escape", "endpoint name '../escape' is not valid"),
    ],
)
def test_local_bad_arguments_fail_in_one_line(
    tmp_path: Path, tiny_base: Path, arn: str | None, endpoint: str, message: str
) -> None:
    state = tmp_path / "state"
    done = local_deploy(state, arn or local_package(state, tiny_base), endpoint)
    one_line_failure(done, "deploy", message)


def test_old_unpacked_models_are_pruned(tmp_path: Path, tiny_base: Path, monkeypatch: Any) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("SM_PIPELINES_LOCAL_STATE", str(state))
    from components.common import model_registry

    for _ in range(5):
        arn = local_package(state, tiny_base)
        local_endpoint.deploy(state, model_registry.describe(arn), "ep", check=lambda path: None)
    record = local_endpoints.read(state, "ep")
    paths = [e["ModelPath"] for e in record["ConfigHistory"]]
    assert paths[:2] == [None, None] and all(Path(p).is_dir() for p in paths[2:])
    assert len(list((local_endpoints.folder(state) / "ep" / "models").iterdir())) == 3
    assert json.loads(local_endpoints.record_path(state, "ep").read_text()) == record
