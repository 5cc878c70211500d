"""Triggers and alerts: applied with upsert in moto, idempotent, torn down by tag; patterns and
messages checked against moto's own EventBridge; local alerts from a failing local run."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import boto3
import pytest
from moto import mock_aws

from sm_pipelines.cli import main
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.events.patterns import matches, render
from sm_pipelines.events.rules import alert_rules, trigger_rules
from sm_pipelines.local.alerts import AlertRouter
from sm_pipelines.local.state import LocalState
from tests.local_definitions import definition, processing, runner, stage_script

REGION = "eu-west-1"
ACCOUNT = "111122223333"
BUCKET = "llm-twin-staging-artifacts"
PIPELINE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/llm-twin-ct"
QUEUE = "llm-twin-alerts-staging"


def _upsert(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["--definitions", str(project / "definitions"), "upsert", "--env", "staging"]) == 0
    return capsys.readouterr().out.splitlines()


def test_upsert_applies_triggers_and_alerts_then_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], staging_account: None
) -> None:
    first = _upsert(project, capsys)
    for expected in (
        "function llm-twin-ct-guard-staging: created",
        "pipeline llm-twin-ct: created",
        "role llm-twin-staging-eventbridge: created",
        "bucket llm-twin-staging-artifacts: updated (EventBridge notifications on)",
        "rule llm-twin-ct-nightly-staging: created",
        "rule llm-twin-ct-new-data-staging: created",
        "rule llm-twin-ct-quality-drop-staging: created",
        "rule llm-twin-alert-execution-failed-staging: created",
        "rule llm-twin-alert-step-failed-staging: created",
        "rule llm-twin-alert-model-pending-approval-staging: created",
        "rule llm-twin-alert-quality-drop-staging: created",
        "rule llm-twin-monitoring-hourly-staging: created",
        "pipeline llm-twin-deploy: created",
        "rule llm-twin-deploy-model-approved-staging: created",
        "rule llm-twin-deploy-model-rejected-staging: created",
    ):
        assert expected in first
    assert any(line.startswith("topic llm-twin-pipeline-alerts-staging: created") for line in first)

    events = boto3.client("events", region_name=REGION)
    nightly = events.describe_rule(Name="llm-twin-ct-nightly-staging")
    assert nightly["ScheduleExpression"] == "cron(0 2 * * ? *)"
    (target,) = events.list_targets_by_rule(Rule="llm-twin-ct-nightly-staging")["Targets"]
    assert target["Arn"] == PIPELINE_ARN
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/llm-twin-staging-eventbridge"
    assert target["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "TrainEpochs", "Value": "1"}]
    }

    iam = boto3.client("iam")
    policy = iam.get_role_policy(
        RoleName="llm-twin-staging-eventbridge", PolicyName="start-pipelines"
    )
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["sagemaker:StartPipelineExecution"]
    assert statement["Resource"] == [
        PIPELINE_ARN,
        PIPELINE_ARN.replace("-ct", "-deploy"),
        PIPELINE_ARN.replace("-ct", "-monitoring"),
    ]

    sns = boto3.client("sns", region_name=REGION)
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:llm-twin-pipeline-alerts-staging"
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/llm-twin-alerts-staging"
    subscriptions = {
        (s["Protocol"], s["Endpoint"])
        for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    }
    assert subscriptions == {
        ("email", "ml-platform@example.com"),
        ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"),
    }

    second = _upsert(project, capsys)
    assert second[0].startswith("code ") and second[0].endswith(": already present")
    assert all(
        line.endswith(": unchanged") or "(EventBridge notifications on)" in line
        for line in second[1:]
    )
    assert [line for line in second if "unchanged" not in line][1:] == []


def test_removed_trigger_is_deleted_and_teardown_leaves_nothing_tagged(
    project: Path, capsys: pytest.CaptureFixture[str], staging_account: None
) -> None:
    events = boto3.client("events", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    events.put_rule(Name="someone-elses-rule", ScheduleExpression="rate(1 day)")
    foreign_topic = sns.create_topic(Name="someone-elses-topic")["TopicArn"]
    _upsert(project, capsys)

    pipeline_yaml = project / "definitions/pipelines/llm-twin-ct.yaml"
    text = pipeline_yaml.read_text()
    start = text.index("  - name: quality-drop")
    end = text.index("\n\n", start)
    pipeline_yaml.write_text(text[:start] + text[end + 1 :])
    lines = _upsert(project, capsys)
    assert "rule llm-twin-ct-quality-drop-staging: deleted" in lines
    assert "rule llm-twin-ct-nightly-staging: unchanged" in lines

    assert (
        main(["--definitions", str(project / "definitions"), "teardown", "--env", "staging"]) == 2
    )
    assert "--yes" in capsys.readouterr().err
    args = ["--definitions", str(project / "definitions"), "teardown", "--env", "staging", "--yes"]
    assert main(args) == 0
    removed = capsys.readouterr().out
    assert (
        "pipeline llm-twin-ct: deleted" in removed
        and "role llm-twin-staging-eventbridge: deleted" in removed
    )

    assert [r["Name"] for r in events.list_rules()["Rules"]] == ["someone-elses-rule"]
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [foreign_topic]
    assert boto3.client("sagemaker", region_name=REGION).list_pipelines()["PipelineSummaries"] == []
    assert boto3.client("lambda", region_name=REGION).list_functions()["Functions"] == []
    roles = [r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]]
    assert roles == ["llm-twin-staging-sagemaker-execution"]
    assert main(args) == 0
    assert "nothing to remove" in capsys.readouterr().out


def _execution_event(status: str) -> dict:
    return {
        "version": "0",
        "id": "7f1c0c2e-0000-0000-0000-000000000000",
        "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-22T02:14:00Z",
        "region": REGION,
        "resources": [PIPELINE_ARN],
        "detail": {
            "pipelineArn": PIPELINE_ARN,
            "pipelineExecutionArn": f"{PIPELINE_ARN}/execution/abc123def456",
            "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": "Executing",
            "executionStartTime": "2026-11-22T02:00:00Z",
        },
    }


def _staging_rules(project: Path) -> dict:
    definitions = load_definitions(project / "definitions")
    env = definitions.environment("staging")
    rules = trigger_rules(definitions, env) + alert_rules(definitions, definitions.alerts, env)
    return {rule.name: rule for rule in rules}


def test_patterns_and_messages_agree_with_moto_eventbridge(project: Path, fake_aws: None) -> None:
    """moto's EventBridge matches and transforms independently; route the same rule to a queue."""
    rule = _staging_rules(project)["llm-twin-alert-execution-failed-staging"]
    target = rule.targets[0].to_aws()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="probe")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="probe", EventPattern=rule.pattern_json)
        events.put_targets(
            Rule="probe",
            Targets=[{"Id": "q", "Arn": queue_arn, "InputTransformer": target["InputTransformer"]}],
        )
        for status in ("Executing", "Failed", "Succeeded"):
            event = _execution_event(status)
            events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event["resources"],
                    }
                ]
            )
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert len(received) == 1
    body = received[0]["Body"]
    assert "Pipeline execution Failed at" in body and "execution/abc123def456" in body

    ours = render(
        dict(rule.targets[0].input_paths),
        rule.targets[0].input_template,
        _execution_event("Failed"),
    )
    assert ours.startswith("Pipeline execution Failed at 2026-11-22T02:14:00Z. Pipeline: ")
    assert "Open: https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1" in ours
    assert matches(rule.pattern, _execution_event("Failed"))
    assert not matches(rule.pattern, _execution_event("Executing"))


@pytest.mark.parametrize(
    ("rule", "event", "expected"),
    [
        (
            "llm-twin-alert-step-failed-staging",
            {
                "source": "aws.sagemaker",
                "detail-type": "SageMaker Model Building Pipeline Execution Step Status Change",
                "detail": {
                    "pipelineArn": PIPELINE_ARN,
                    "stepName": "train",
                    "currentStepStatus": "Failed",
                },
            },
            True,
        ),
        (
            "llm-twin-alert-step-failed-staging",
            {
                "source": "aws.sagemaker",
                "detail-type": "SageMaker Model Building Pipeline Execution Step Status Change",
                "detail": {
                    "pipelineArn": PIPELINE_ARN,
                    "stepName": "train",
                    "currentStepStatus": "Succeeded",
                },
            },
            False,
        ),
        (
            "llm-twin-alert-model-pending-approval-staging",
            {
                "source": "aws.sagemaker",
                "detail-type": "SageMaker Model Package State Change",
                "detail": {
                    "ModelPackageGroupName": "llm-twin-staging",
                    "ModelApprovalStatus": "PendingManualApproval",
                },
            },
            True,
        ),
        (
            "llm-twin-alert-model-pending-approval-staging",
            {
                "source": "aws.sagemaker",
                "detail-type": "SageMaker Model Package State Change",
                "detail": {
                    "ModelPackageGroupName": "llm-twin-staging",
                    "ModelApprovalStatus": "Approved",
                },
            },
            False,
        ),
        (
            "llm-twin-ct-new-data-staging",
            {
                "source": "aws.s3",
                "detail-type": "Object Created",
                "detail": {"bucket": {"name": BUCKET}, "object": {"key": "raw/posts/2026-11.json"}},
            },
            True,
        ),
        (
            "llm-twin-ct-new-data-staging",
            {
                "source": "aws.s3",
                "detail-type": "Object Created",
                "detail": {"bucket": {"name": BUCKET}, "object": {"key": "llm-twin/code/x.py"}},
            },
            False,
        ),
        (
            "llm-twin-ct-quality-drop-staging",
            {"source": "llm-twin.monitoring", "detail-type": "LLM Twin Quality Drop", "detail": {}},
            True,
        ),
    ],
)
def test_patterns_use_the_real_field_names(
    project: Path, rule: str, event: dict, expected: bool
) -> None:
    assert matches(_staging_rules(project)[rule].pattern, event) is expected


def test_alert_published_to_the_topic_reaches_the_subscribed_queue(
    project: Path, capsys: pytest.CaptureFixture[str], staging_account: None
) -> None:
    _upsert(project, capsys)
    rule = _staging_rules(project)["llm-twin-alert-execution-failed-staging"]
    message = render(
        dict(rule.targets[0].input_paths),
        rule.targets[0].input_template,
        _execution_event("Failed"),
    )
    sns = boto3.client("sns", region_name=REGION)
    sns.publish(TopicArn=rule.targets[0].arn, Message=message)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    (received,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    delivered = json.loads(received["Body"])["Message"]
    assert delivered == message
    assert "Pipeline execution Failed" in delivered and "abc123def456" in delivered


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def _local_failing_run(
    project: Path, tmp_path: Path, webhook: str | None
) -> tuple[LocalState, list[str]]:
    local_yaml = project / "definitions/environments/local.yaml"
    if webhook:
        text = local_yaml.read_text()
        local_yaml.write_text(
            text.replace(
                "  state_dir: .sm-local", f"  state_dir: .sm-local\n  alert_webhook: {webhook}"
            )
        )
    definitions = load_definitions(project / "definitions")
    env = definitions.environment("local")
    state = LocalState(tmp_path / "state")
    stage_script(state, "boom.py", "raise SystemExit('tokenizer file missing')")
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            lines.extend(text.splitlines())

        def flush(self) -> None:
            return None

    router = AlertRouter(
        definitions,
        env,
        state,
        stream=Stream(),
        attempts=2,
        backoff_seconds=0.01,
        timeout_seconds=0.5,
    )
    run = runner(
        state, definition([processing("train", "boom.py")]), tmp_path, event_sinks=[router]
    )
    run.pipeline = "llm-twin-ct"
    execution = run.start({})
    router.close()
    assert execution.status == "Failed"
    return state, lines


def test_local_failure_alerts_like_aws(project: Path, tmp_path: Path) -> None:
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        state, lines = _local_failing_run(
            project, tmp_path, f"http://127.0.0.1:{server.server_port}/hook"
        )
    finally:
        server.shutdown()
    alerts = [json.loads(line) for line in (state.root / "alerts.jsonl").read_text().splitlines()]
    assert [a["rule"] for a in alerts] == [
        "llm-twin-alert-step-failed-local",
        "llm-twin-alert-execution-failed-local",
    ]
    assert alerts[0]["message"].startswith("Step train Failed at ")
    assert "AlgorithmError: exit code 1: tokenizer file missing" in alerts[0]["message"]
    assert any(
        line.startswith("ALERT llm-twin-alert-step-failed-local: Step train Failed")
        for line in lines
    )
    assert [r["rule"] for r in _Recorder.received] == [a["rule"] for a in alerts]


def test_unreachable_webhook_is_retried_reported_and_harmless(
    project: Path, tmp_path: Path
) -> None:
    from tests.conftest import free_port

    state, lines = _local_failing_run(project, tmp_path, f"http://127.0.0.1:{free_port()}/hook")
    warnings = [line for line in lines if line.startswith("WARNING alert webhook")]
    assert len(warnings) == 2 and "unreachable after 2 attempts" in warnings[0]
    records = [json.loads(line) for line in (state.root / "alerts.jsonl").read_text().splitlines()]
    assert sum("delivery_error" in r for r in records) == 2


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("alerts.yaml", "  pipeline-alerts:\n", "  " + "a" * 240 + ":\n"),
            "for staging.yaml is 257 characters; SNS allows 256",
        ),
        (
            (
                "alerts.yaml",
                "    topic: pipeline-alerts\n    event: step-status",
                "    topic: pager\n    event: step-status",
            ),
            "no topic 'pager' (have: ",
        ),
        (
            ("alerts.yaml", "statuses: [Failed, Stopped]", "statuses: [Failed, Broken]"),
            "status 'Broken' is not one of",
        ),
        (
            ("alerts.yaml", "  - name: step-failed\n", "  - name: " + "s" * 40 + "\n"),
            "for production.yaml is 66 characters; EventBridge allows 64",
        ),
        (
            (
                "environments/staging.yaml",
                "kms_key: alias/llm-twin-alerts-staging",
                "kms_key: alias/aws/sns",
            ),
            "alias/aws/sns cannot be used",
        ),
        (
            (
                "environments/staging.yaml",
                "{protocol: email, endpoint: ml-platform@example.com}",
                "{protocol: email, endpoint: not-an-address}",
            ),
            "email endpoint 'not-an-address' is not an email address",
        ),
        (
            (
                "pipelines/llm-twin-ct.yaml",
                "    parameters:\n      TrainEpochs: 1\n",
                "    parameters:\n      Epochs: 1\n",
            ),
            "triggers[0].parameters.Epochs: no parameter named 'Epochs'",
        ),
    ],
)
def test_bad_trigger_and_alert_inputs(
    project: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str, str], expected: str
) -> None:
    path = project / "definitions" / edit[0]
    text = path.read_text()
    assert text.count(edit[1]) >= 1
    path.write_text(text.replace(edit[1], edit[2], 1))
    assert main(["--definitions", str(project / "definitions"), "validate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any(expected in line for line in err), err
