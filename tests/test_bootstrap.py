"""`sm-pipelines bootstrap`: the account-level template (clean under cfn-lint, holding what a
fresh account needs) and its deployment through change sets, against moto in process and
through a loopback moto_server.

moto 5.2's CloudFormation has no model for AWS::IAM::OIDCProvider and
AWS::SecretsManager::Secret: it logs "No Moto CloudFormation support", reports the stack
CREATE_COMPLETE and creates nothing. The deployments here therefore run with `--skip-type` for
those two (MOTO_CANNOT_CREATE), and the resources themselves are checked through the full
template and cfn-lint. Of what moto does create, it ignores the bucket's versioning, public
access block, lifecycle and notifications, the repositories' lifecycle policies and updates of a
role's inline policy: those too are asserted on the template (and on the stack's template after
an update), not on the emulated resources.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sm_pipelines.aws import roles as upsert_roles
from sm_pipelines.cli import main
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.iam.documents import iam_documents
from sm_pipelines.infra import lint, storage
from sm_pipelines.infra import template as template_module
from sm_pipelines.infra.roles import EVENTS_POLICY_NAME
from sm_pipelines.infra.template import bootstrap_template, stack_name, template_body
from tests.conftest import (
    ROOT,
    STAGING_ACCOUNT,
    STAGING_BUCKET,
    STAGING_REGION,
    empty_moto_account,
)

STACK = "llm-twin-staging-bootstrap"
MOTO_CANNOT_CREATE = ("AWS::IAM::OIDCProvider", "AWS::SecretsManager::Secret")
SKIP = [arg for kind in MOTO_CANNOT_CREATE for arg in ("--skip-type", kind)]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _template(env: str = "staging", root: Path = ROOT / "definitions", **kw: Any) -> dict:
    definitions = load_definitions(root)
    return bootstrap_template(definitions, definitions.environment(env), **kw)


def _of_type(template: dict, kind: str) -> dict[str, dict]:
    return {rid: r for rid, r in template["Resources"].items() if r["Type"] == kind}


# --- the template ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_full_template_is_clean_under_cfn_lint(env: str) -> None:
    template = _template(env)
    region = load_definitions(ROOT / "definitions").environment(env).region
    assert lint.findings(template_body(template), region) == []
    assert {r["Type"] for r in template["Resources"].values()} == {
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::ECR::Repository",
        "AWS::IAM::Role",
        "AWS::IAM::OIDCProvider",
        "AWS::SecretsManager::Secret",
    }


def test_cfn_lint_finds_what_is_wrong_in_one_line_each() -> None:
    template = _template()
    bucket = template["Resources"]["ArtifactBucket"]
    bucket["Properties"]["VersioningConfiguration"] = {"Status": "On"}
    del bucket["UpdateReplacePolicy"]
    found = lint.findings(template_body(template), STAGING_REGION)
    assert any(
        line.startswith("E3030 Resources/ArtifactBucket/Properties/VersioningConfiguration/Status")
        for line in found
    ), found
    assert any(line.startswith("W3011 Resources/ArtifactBucket") for line in found), found
    assert all("\n" not in line and len(line) < 400 for line in found)


def test_the_bucket_is_encrypted_versioned_private_and_tells_eventbridge() -> None:
    bucket = _template()["Resources"]["ArtifactBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = bucket["Properties"]
    assert properties["BucketName"] == STAGING_BUCKET
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    assert properties["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_the_alert_key_lets_eventbridge_and_sns_use_it() -> None:
    resources = _template()["Resources"]
    alias = resources["AlertsKeyAlias"]["Properties"]
    assert alias == {
        "AliasName": "alias/llm-twin-alerts-staging",
        "TargetKeyId": {"Ref": "AlertsKey"},
    }
    key = resources["AlertsKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    by_principal = {json.dumps(s["Principal"], sort_keys=True): s for s in statements}
    root = by_principal[json.dumps({"AWS": f"arn:aws:iam::{STAGING_ACCOUNT}:root"})]
    assert root["Action"] == "kms:*"
    for service in ("events.amazonaws.com", "sns.amazonaws.com"):
        statement = by_principal[json.dumps({"Service": service})]
        assert statement["Effect"] == "Allow"
        assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(statement["Action"])


def test_every_image_repository_has_a_lifecycle_policy() -> None:
    repositories = _of_type(_template(), "AWS::ECR::Repository")
    names = sorted(r["Properties"]["RepositoryName"] for r in repositories.values())
    assert names == ["llm-twin-processing", "llm-twin-serving", "llm-twin-training"]
    for repository in repositories.values():
        rules = json.loads(repository["Properties"]["LifecyclePolicy"]["LifecyclePolicyText"])
        selections = [rule["selection"]["tagStatus"] for rule in rules["rules"]]
        assert selections == ["untagged", "any"]
        assert repository["DeletionPolicy"] == "Retain"


def test_the_roles_carry_exactly_what_sm_pipelines_iam_prints() -> None:
    definitions = load_definitions(ROOT / "definitions")
    documents = iam_documents(definitions, "staging")
    resources = _template()["Resources"]
    expected = {
        "ExecutionRole": ("pipeline_execution", "pipeline_execution"),
        "EventBridgeRole": ("eventbridge", "eventbridge"),
        "DeployRole": ("cd_deploy", "cd_deploy"),
    }
    for rid, (role, prefix) in expected.items():
        properties = resources[rid]["Properties"]
        assert properties["RoleName"] == documents["role_names"][role]
        assert properties["AssumeRolePolicyDocument"] == documents[f"{prefix}_trust_policy"]
        (inline,) = properties["Policies"]
        assert json.loads(inline["PolicyDocument"]) == documents[f"{prefix}_policy"]
    assert resources["ExecutionRole"]["Properties"]["Path"] == "/"
    assert resources["DeployRole"]["DependsOn"] == ["GitHubOidcProvider"]
    provider = resources["GitHubOidcProvider"]["Properties"]
    assert provider == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }


def test_the_eventbridge_policy_is_named_as_upsert_reads_it() -> None:
    assert EVENTS_POLICY_NAME == upsert_roles.POLICY_NAME


def test_secret_placeholders_have_names_and_never_a_value() -> None:
    secrets = _of_type(_template(), "AWS::SecretsManager::Secret")
    names = sorted(s["Properties"]["Name"] for s in secrets.values())
    # LLM_API_KEY lives in SSM: CloudFormation cannot make SecureString parameters.
    assert names == ["llm-twin/staging/mongodb", "llm-twin/staging/opik", "llm-twin/staging/qdrant"]
    for secret in secrets.values():
        assert set(secret["Properties"]) == {"Name", "Description"}
        assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    mongodb = next(s for s in secrets.values() if s["Properties"]["Name"].endswith("mongodb"))
    assert "keys uri" in mongodb["Properties"]["Description"]
    assert "MONGODB_URI" in mongodb["Properties"]["Description"]


def test_skip_type_leaves_out_a_type_and_what_depends_on_it() -> None:
    template = _template(skip_types=MOTO_CANNOT_CREATE)
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & set(MOTO_CANNOT_CREATE)
    assert "DependsOn" not in template["Resources"]["DeployRole"]
    assert lint.findings(template_body(template), STAGING_REGION) == []


def test_template_only_prints_the_template_and_calls_no_aws(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any AWS call would go to a closed port and fail.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    args = ["--definitions", str(ROOT / "definitions"), "bootstrap", "--env", "staging"]
    assert main([*args, "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == _template()
    assert main([*args, "--template-only", "--skip-type", "AWS::Nope::Thing"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: --skip-type AWS::Nope::Thing: ")


def test_a_local_environment_is_not_bootstrapped(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--definitions", str(ROOT / "definitions"), "bootstrap", "--env", "local"]
    assert main(args) == 2
    assert "is local: nothing to bootstrap" in capsys.readouterr().err


# --- deployed to moto, in process -----------------------------------------------------------


@pytest.fixture
def empty_account(fake_aws: None, monkeypatch: pytest.MonkeyPatch):
    """In-process moto acting as the staging account, with nothing in it."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", STAGING_ACCOUNT)
    with mock_aws():
        yield


def _bootstrap(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    args = ["--definitions", str(project / "definitions"), "bootstrap", "--env", "staging"]
    code = main([*args, *SKIP, *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out.splitlines()


def _change_lines(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in lines if line.startswith("  ") and "::" in line]


def _add_secret(project: Path) -> None:
    """A new Secrets Manager reference: the execution role's policy gains a statement's
    resource."""
    path = project / "definitions/environments/staging.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "secrets:\n"
    extra = "  HF_TOKEN: {secrets_manager: llm-twin/staging/hugging-face}\n"
    path.write_text(text.replace(anchor, anchor + extra, 1), encoding="utf-8")


def _executed_change_sets(cfn: Any) -> list[str]:
    summaries = cfn.list_change_sets(StackName=STACK)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s["ExecutionStatus"] == "EXECUTE_COMPLETE"]


@pytest.mark.usefixtures("empty_account")
def test_bootstrap_creates_then_changes_nothing_then_updates_a_policy(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _bootstrap(project, capsys)
    assert lines[1].startswith(f"stack {STACK}: creating (9 resource change(s), change set ")
    changes = _change_lines(lines)
    assert ["Add", "ArtifactBucket", "AWS::S3::Bucket"] in changes
    assert ["Add", "DeployRole", "AWS::IAM::Role"] in changes
    assert {c[0] for c in changes} == {"Add"} and len(changes) == 9
    assert f"stack {STACK}: created (CREATE_COMPLETE)" in lines
    assert any("aws ssm put-parameter --name /llm-twin/staging/llm-api-key" in x for x in lines)

    # What moto made: the bucket (encrypted), repositories, key alias and the three roles.
    s3 = boto3.client("s3", region_name=STAGING_REGION)
    encryption = s3.get_bucket_encryption(Bucket=STAGING_BUCKET)
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    ecr = boto3.client("ecr", region_name=STAGING_REGION)
    assert sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"]) == [
        "llm-twin-processing",
        "llm-twin-serving",
        "llm-twin-training",
    ]
    aliases = boto3.client("kms", region_name=STAGING_REGION).list_aliases()["Aliases"]
    assert "alias/llm-twin-alerts-staging" in {a["AliasName"] for a in aliases}
    iam = boto3.client("iam", region_name=STAGING_REGION)
    documents = iam_documents(load_definitions(project / "definitions"), "staging")
    stored = iam.get_role_policy(
        RoleName="llm-twin-staging-eventbridge", PolicyName="start-pipelines"
    )
    assert stored["PolicyDocument"] == documents["eventbridge_policy"]
    iam.get_role(RoleName="llm-twin-staging-sagemaker-execution")
    iam.get_role(RoleName="llm-twin-staging-github-deploy")

    cfn = boto3.client("cloudformation", region_name=STAGING_REGION)
    first = _executed_change_sets(cfn)
    assert _bootstrap(project, capsys)[-1] == f"stack {STACK}: nothing changes"
    assert _executed_change_sets(cfn) == first
    # The empty change set was deleted, not left behind.
    assert len(cfn.list_change_sets(StackName=STACK)["Summaries"]) == 1

    _add_secret(project)
    lines = _bootstrap(project, capsys)
    assert _change_lines(lines) == [["Modify", "ExecutionRole", "AWS::IAM::Role"]]
    assert f"stack {STACK}: updated (UPDATE_COMPLETE)" in lines
    assert len(_executed_change_sets(cfn)) == 2
    # moto does not apply a role's new inline policy; the stack's template holds it.
    deployed = cfn.get_template(StackName=STACK)["TemplateBody"]
    deployed = deployed if isinstance(deployed, dict) else json.loads(deployed)
    policy = deployed["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]
    assert "secret:llm-twin/staging/hugging-face-??????" in policy["PolicyDocument"]


@pytest.mark.usefixtures("empty_account")
def test_an_existing_github_provider_is_trusted_not_created_again(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = boto3.client("iam", region_name=STAGING_REGION)
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"]
    )
    args = ["--definitions", str(project / "definitions"), "bootstrap", "--env", "staging"]
    assert main([*args, "--skip-type", "AWS::SecretsManager::Secret"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"note: GitHub's OIDC provider exists in {STAGING_ACCOUNT} outside {STACK}; kept as is"
    )
    assert not any("GitHubOidcProvider" in line for line in lines)
    cfn = boto3.client("cloudformation", region_name=STAGING_REGION)
    deployed = cfn.get_template(StackName=STACK)["TemplateBody"]
    deployed = deployed if isinstance(deployed, dict) else json.loads(deployed)
    assert "GitHubOidcProvider" not in deployed["Resources"]
    assert "DependsOn" not in deployed["Resources"]["DeployRole"]
    # A second run makes the same decision, so nothing changes.
    assert main([*args, "--skip-type", "AWS::SecretsManager::Secret"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"stack {STACK}: nothing changes"


@pytest.mark.usefixtures("empty_account")
def test_a_stack_whose_creation_rolled_back_is_one_line_exit_3(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto.cloudformation.models import cloudformation_backends

    _bootstrap(project, capsys)
    backend = cloudformation_backends[STAGING_ACCOUNT][STAGING_REGION]
    (stack,) = [s for s in backend.stacks.values() if s.name == STACK]
    stack.status = "ROLLBACK_COMPLETE"
    args = ["--definitions", str(project / "definitions"), "bootstrap", "--env", "staging"]
    assert main([*args, *SKIP]) == 3
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    (line,) = err.splitlines()
    assert line.startswith(f"error: stack {STACK} is ROLLBACK_COMPLETE: ")
    assert f"aws cloudformation delete-stack --stack-name {STACK}" in line


@pytest.mark.usefixtures("empty_account")
def test_a_cfn_lint_finding_stops_bootstrap_before_any_change_set(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_bucket(env: Any) -> dict:
        resources = storage.artifact_bucket(env)
        resources["ArtifactBucket"]["Properties"]["VersioningConfiguration"] = {"Status": "On"}
        return resources

    monkeypatch.setattr(template_module, "artifact_bucket", broken_bucket)
    args = ["--definitions", str(project / "definitions"), "bootstrap", "--env", "staging"]
    assert main([*args, *SKIP]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: bootstrap template of staging: cfn-lint E3030 "
        "Resources/ArtifactBucket/Properties/VersioningConfiguration/Status: "
        "'On' is not one of ['Enabled', 'Suspended']"
    ]
    cfn = boto3.client("cloudformation", region_name=STAGING_REGION)
    assert cfn.list_stacks()["StackSummaries"] == []


@pytest.mark.usefixtures("fake_aws")
def test_an_unreachable_endpoint_is_one_line_exit_3(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    args = ["--definitions", str(project / "definitions"), "bootstrap", "--env", "staging"]
    assert main(args) == 3
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        line == f"error: cloudformation describe_stacks {STACK}: cannot reach http://127.0.0.1:9/"
    )


@pytest.mark.usefixtures("empty_account")
def test_teardown_keeps_the_bootstrap_stack_unless_asked(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bootstrap(project, capsys)
    teardown = ["--definitions", str(project / "definitions"), "teardown", "--env", "staging"]
    assert main([*teardown, "--yes"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"stack {STACK}: kept (the bootstrap stack; --include-bootstrap deletes it)"
    ]
    iam = boto3.client("iam", region_name=STAGING_REGION)
    iam.get_role(RoleName="llm-twin-staging-eventbridge")  # still there

    assert main([*teardown, "--include-bootstrap"]) == 2
    assert "and the bootstrap stack" in capsys.readouterr().err
    assert main([*teardown, "--yes", "--include-bootstrap"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"stack {STACK}: deleted (")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="llm-twin-staging-eventbridge")
    # Retained: the bucket (and what it holds) stays.
    boto3.client("s3", region_name=STAGING_REGION).head_bucket(Bucket=STAGING_BUCKET)
    cfn = boto3.client("cloudformation", region_name=STAGING_REGION)
    assert [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]] == ["DELETE_COMPLETE"]


def test_stack_name_is_per_environment() -> None:
    definitions = load_definitions(ROOT / "definitions")
    assert stack_name(definitions.environment("production")) == "llm-twin-production-bootstrap"


# --- a fresh moto server, the CLI as a user runs it -------------------------------------------


def test_fresh_moto_server_bootstrap_then_upsert_then_no_change_then_update(
    project: Path, moto_server: str
) -> None:
    env = empty_moto_account(moto_server)
    base = [sys.executable, "-m", "sm_pipelines", "--definitions", str(project / "definitions")]

    def run(*args: str) -> list[str]:
        done = subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    created = run("bootstrap", "--env", "staging", *SKIP)
    assert f"stack {STACK}: created (CREATE_COMPLETE)" in created
    assert len(_change_lines(created)) == 9

    upserted = run("upsert", "--env", "staging")
    assert "pipeline llm-twin-ct: created" in upserted
    assert "role llm-twin-staging-eventbridge: unchanged" in upserted  # bootstrap made it

    assert run("bootstrap", "--env", "staging", *SKIP)[-1] == f"stack {STACK}: nothing changes"
    cfn = boto3.client(
        "cloudformation", endpoint_url=moto_server, region_name=STAGING_REGION, **CREDENTIALS
    )
    summaries = cfn.list_change_sets(StackName=STACK)["Summaries"]
    assert [s["ExecutionStatus"] for s in summaries] == ["EXECUTE_COMPLETE"]

    _add_secret(project)
    updated = run("bootstrap", "--env", "staging", *SKIP)
    assert _change_lines(updated) == [["Modify", "ExecutionRole", "AWS::IAM::Role"]]
    assert f"stack {STACK}: updated (UPDATE_COMPLETE)" in updated
