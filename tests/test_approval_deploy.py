"""Approval deploys (issue 17): the rules that start llm-twin-deploy when a person approves or
rejects a model version, applied by upsert in moto; what the deploy job does with the version
(idempotent on the endpoint's current version; a rejected live version gives its place back to
the latest Approved one), in moto with update_endpoint emulated where moto stops."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components.common import model_registry
from components.deploy import __main__ as deploy_job
from sm_pipelines.cli import main
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.events.patterns import matches, pipeline_parameters
from sm_pipelines.events.rules import trigger_rules
from sm_pipelines.events.shapes import model_package_event

REGION = "eu-west-1"
ACCOUNT = "111122223333"
GROUP = "llm-twin-staging"
DEPLOY_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/llm-twin-deploy"
ENDPOINT = "llm-twin-staging"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/llm-twin-staging-sagemaker-execution"


def _event(status: str, group: str = GROUP, version: int = 3) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"
    return model_package_event(
        {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
        },
        REGION,
        ACCOUNT,
    )


def _through_moto(pattern: str, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events moto's EventBridge delivers through `pattern` (to a probe queue)."""
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="approval-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events", region_name=REGION)
    # A bus of its own: moto cannot deliver to the pipeline targets on the default bus.
    events.create_event_bus(Name="approval-probe")
    events.put_rule(Name="approval-probe", EventPattern=pattern, EventBusName="approval-probe")
    events.put_targets(
        Rule="approval-probe",
        EventBusName="approval-probe",
        Targets=[{"Id": "q", "Arn": queue_arn}],
    )
    for event in sent:
        events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                    "EventBusName": "approval-probe",
                }
            ]
        )
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    events.remove_targets(Rule="approval-probe", EventBusName="approval-probe", Ids=["q"])
    events.delete_rule(Name="approval-probe", EventBusName="approval-probe")
    events.delete_event_bus(Name="approval-probe")
    sqs.delete_queue(QueueUrl=queue)
    return [json.loads(m["Body"]) for m in received]


def test_upsert_applies_the_approval_rules_and_moto_matches_them(
    project: Path, capsys: pytest.CaptureFixture[str], staging_account: None
) -> None:
    args = ["--definitions", str(project / "definitions"), "upsert", "--env", "staging"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "pipeline llm-twin-deploy: created" in lines
    assert "rule llm-twin-deploy-model-approved-staging: created" in lines
    assert "rule llm-twin-deploy-model-rejected-staging: created" in lines

    events = boto3.client("events", region_name=REGION)
    for name, status in (("approved", "Approved"), ("rejected", "Rejected")):
        rule = events.describe_rule(Name=f"llm-twin-deploy-model-{name}-staging")
        assert json.loads(rule["EventPattern"]) == {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": [status]},
        }
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == DEPLOY_ARN
        assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/llm-twin-staging-eventbridge"
        # EventBridge's dynamic path parameter: the event's ARN becomes the pipeline parameter.
        assert target["SageMakerPipelineParameters"] == {
            "PipelineParameterList": [
                {"Name": "ModelPackageArn", "Value": "$.detail.ModelPackageArn"}
            ]
        }
        # moto's own matcher agrees on group and status: only the first event gets through.
        delivered = _through_moto(
            rule["EventPattern"],
            [
                _event(status, version=1),
                _event(status, group="llm-twin-production", version=2),
                _event("PendingManualApproval", version=3),
            ],
        )
        assert [e["detail"]["ModelPackageVersion"] for e in delivered] == [1]

    # The events role may start the deploy pipeline, and nothing more than before.
    policy = boto3.client("iam").get_role_policy(
        RoleName="llm-twin-staging-eventbridge", PolicyName="start-pipelines"
    )
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert DEPLOY_ARN in statement["Resource"]
    assert statement["Action"] == ["sagemaker:StartPipelineExecution"]

    # A second upsert changes nothing.
    assert main(args) == 0
    again = capsys.readouterr().out.splitlines()
    assert "rule llm-twin-deploy-model-approved-staging: unchanged" in again


def test_the_parameter_comes_from_the_event(project: Path) -> None:
    definitions = load_definitions(project / "definitions")
    env = definitions.environment("staging")
    rules = {r.name: r for r in trigger_rules(definitions, env)}
    approved = rules["llm-twin-deploy-model-approved-staging"]
    event = _event("Approved", version=7)
    assert approved.pattern is not None and matches(approved.pattern, event)
    assert not matches(approved.pattern, _event("Rejected"))
    assert pipeline_parameters(dict(approved.targets[0].pipeline_parameters or ()), event) == {
        "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/7"
    }
    # The approval pipeline never matches another environment's group.
    production = definitions.environment("production")
    prod_rules = {r.name: r for r in trigger_rules(definitions, production)}
    prod = prod_rules["llm-twin-deploy-model-approved-production"]
    assert prod.pattern is not None and not matches(prod.pattern, event)


# ---- the deploy job against moto --------------------------------------------------------------


class Recorder:
    """The moto SageMaker client with every call recorded in order; update_endpoint (which
    moto lacks) emulated as SageMaker ends it: the endpoint InService on the new config."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def update_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("update_endpoint")
        name, config = kwargs["EndpointName"], kwargs["EndpointConfigName"]
        self._client.delete_endpoint(EndpointName=name)
        return self._client.create_endpoint(EndpointName=name, EndpointConfigName=config)

    def get_paginator(self, operation: str) -> Any:
        self.calls.append(operation)
        return self._client.get_paginator(operation)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith(("_", "exceptions", "meta")):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


@pytest.fixture
def sagemaker(fake_aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.delenv("SM_PIPELINES_LOCAL_STATE", raising=False)
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        recorder = Recorder(client)
        real = boto3.client

        def patched(service: str, *args: Any, **kwargs: Any) -> Any:
            if service == "sagemaker":
                return recorder
            return real(service, *args, region_name=REGION, **kwargs)

        monkeypatch.setattr(boto3, "client", patched)
        # Deploys within one second would share a model name: a clock a second on per call.
        ticks = iter(range(3600))

        class Clock(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:
                return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))

        monkeypatch.setattr("components.deploy.sagemaker_endpoint.datetime", Clock)
        yield recorder


def _version(recorder: Any, status: str) -> str:
    return recorder._client.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": "img:1", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.g4dn.xlarge"],
        },
        ModelApprovalStatus=status,
    )["ModelPackageArn"]


def _ship(arn: str, on_rejected: str = "roll-back") -> deploy_job.Outcome:
    args = deploy_job.parse_args(
        ["--model-package-arn", arn, "--endpoint-name", ENDPOINT, "--role-arn", ROLE]
    )
    return deploy_job.ship(args, on_rejected=on_rejected)


def _serving(recorder: Any) -> str:
    client = recorder._client
    config = client.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    model = client.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]
    return client.describe_model(ModelName=model["ModelName"])["PrimaryContainer"][
        "ModelPackageName"
    ]


def test_a_version_already_live_is_not_deployed_twice(sagemaker: Any) -> None:
    v1 = _version(sagemaker, "Approved")
    first = _ship(v1)
    assert first.action == "deployed" and _serving(sagemaker) == v1
    models = len(sagemaker._client.list_models()["Models"])
    # CT's deploy step and llm-twin-deploy both reach the same version: the second is a no-op.
    second = _ship(v1, on_rejected="fail")
    assert second.action == "unchanged" and "already serves" in second.message
    assert second.report(ENDPOINT)["changed"] == 0
    assert len(sagemaker._client.list_models()["Models"]) == models


def test_rejecting_the_live_version_redeploys_the_previous_approved_one(sagemaker: Any) -> None:
    v1 = _version(sagemaker, "Approved")
    assert _ship(v1).action == "deployed"
    v2 = _version(sagemaker, "Approved")
    second = _ship(v2)
    assert second.action == "deployed" and _serving(sagemaker) == v2
    assert second.previous == v1

    sagemaker._client.update_model_package(ModelPackageArn=v2, ModelApprovalStatus="Rejected")
    sagemaker.calls.clear()
    outcome = _ship(v2)
    assert outcome.action == "deployed" and outcome.serving == v1 and outcome.previous == v2
    assert "version 2 was rejected while live: back to version 1" in outcome.message
    assert _serving(sagemaker) == v1
    # The order: read the rejected version, see that it is live, find the latest Approved one,
    # then a blue/green deploy of it (new model and config, then the endpoint update).
    assert sagemaker.calls == [
        "describe_model_package",
        "describe_endpoint",
        "describe_endpoint_config",
        "describe_model",
        "list_model_packages",
        "describe_model_package",
        "describe_endpoint",
        "create_model",
        "create_endpoint_config",
        "update_endpoint",
        "describe_endpoint",
    ]
    report = outcome.report(ENDPOINT)
    assert report["changed"] == 1 and report["previous_model_package_arn"] == v2


def test_rejecting_a_version_that_is_not_live_changes_nothing(sagemaker: Any) -> None:
    v1 = _version(sagemaker, "Approved")
    _ship(v1)
    v2 = _version(sagemaker, "Rejected")
    outcome = _ship(v2)
    assert outcome.action == "unchanged" and "nothing to roll back" in outcome.message
    assert _serving(sagemaker) == v1


def test_rejecting_the_only_approved_version_says_so(sagemaker: Any) -> None:
    v1 = _version(sagemaker, "Approved")
    _ship(v1)
    sagemaker._client.update_model_package(ModelPackageArn=v1, ModelApprovalStatus="Rejected")
    with pytest.raises(Exception, match="has no Approved version to go back to"):
        _ship(v1)
    assert model_registry.champion(GROUP) is None
