"""`sm-pipelines iam`: least-privilege policies scoped to each AWS environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sm_pipelines.cli import main
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.iam.documents import GITHUB_OIDC_HOST, iam_documents
from sm_pipelines.iam.statements import DLC_ACCOUNT, WILDCARD_RESOURCE_ACTIONS, allow_unscoped

ROOT = Path(__file__).resolve().parents[1]
AWS_ENVIRONMENTS = ["staging", "production"]
POLICIES = ["pipeline_execution_policy", "eventbridge_policy", "cd_deploy_policy"]
# Roles the deploy role must never be able to reach: it would lift its own privileges.
ESCALATION = re.compile(r"^iam:(Create|Put|Attach|Update|Delete)\w*(Role|Policy)\w*$")


def documents(env: str) -> dict[str, Any]:
    return iam_documents(load_definitions(ROOT / "definitions"), env)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def least_privilege_problems(policy: dict[str, Any]) -> list[str]:
    """What breaks the rules: *FullAccess, Action "*" (or service:*), Resource "*" outside
    WILDCARD_RESOURCE_ACTIONS, NotAction/NotResource, Deny-less wildcards."""
    problems = []
    if "FullAccess" in json.dumps(policy):
        problems.append("names a *FullAccess managed policy")
    for statement in policy["Statement"]:
        sid = statement.get("Sid", "?")
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{sid}: NotAction/NotResource")
        actions = as_list(statement.get("Action", []))
        for action in actions:
            if action == "*" or action.endswith(":*"):
                problems.append(f"{sid}: action {action!r}")
        if "*" in as_list(statement.get("Resource", [])):
            wide = [a for a in actions if a not in WILDCARD_RESOURCE_ACTIONS]
            if wide:
                problems.append(f"{sid}: Resource '*' for {wide}")
    return problems


def resources(policy: dict[str, Any]) -> list[str]:
    return [r for s in policy["Statement"] for r in as_list(s["Resource"])]


def actions(policy: dict[str, Any]) -> set[str]:
    return {a for s in policy["Statement"] for a in as_list(s["Action"])}


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
@pytest.mark.parametrize("name", POLICIES)
def test_policies_are_least_privilege(env_name: str, name: str) -> None:
    assert least_privilege_problems(documents(env_name)[name]) == []


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
@pytest.mark.parametrize("name", POLICIES)
def test_every_resource_belongs_to_the_environment(env_name: str, name: str) -> None:
    definitions = load_definitions(ROOT / "definitions")
    env = definitions.environment(env_name)
    for arn in resources(documents(env_name)[name]):
        if arn == "*":
            continue
        if arn.startswith("arn:aws:s3:::"):
            bucket = f"arn:aws:s3:::{env.bucket}"
            assert arn == bucket or arn.startswith(f"{bucket}/{env.prefix}/"), arn
            continue
        _, _, service, region, account, _ = arn.split(":", 5)
        if service == "iam":
            assert (region, account) == ("", env.account_id), arn
        elif service == "ecr" and account == DLC_ACCOUNT:
            assert name == "cd_deploy_policy", f"only CD pulls the base images: {arn}"
        else:
            assert (region, account) == (env.region, env.account_id), arn


def test_a_broad_policy_is_caught() -> None:
    broad = {
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "B", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"},
            {"Sid": "C", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
        ],
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"],
    }
    problems = least_privilege_problems(broad)
    assert problems[0] == "names a *FullAccess managed policy"
    assert "A: action '*'" in problems
    assert "B: action 's3:*'" in problems
    assert "C: Resource '*' for ['s3:GetObject']" in problems


def test_only_allowlisted_actions_may_be_unscoped() -> None:
    with pytest.raises(ValueError, match="support resource ARNs"):
        allow_unscoped("Nope", ["s3:GetObject"])
    # Every allowlisted action says why it cannot name a resource.
    assert all(reason.strip() for reason in WILDCARD_RESOURCE_ACTIONS.values())


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
def test_eventbridge_may_only_start_the_pipelines(env_name: str) -> None:
    definitions = load_definitions(ROOT / "definitions")
    env = definitions.environment(env_name)
    docs = documents(env_name)
    [statement] = docs["eventbridge_policy"]["Statement"]
    assert statement["Action"] == ["sagemaker:StartPipelineExecution"]
    assert "Condition" not in statement
    assert statement["Resource"] == sorted(
        f"arn:aws:sagemaker:{env.region}:{env.account_id}:pipeline/{name}"
        for name in definitions.pipelines
    )
    trust = docs["eventbridge_trust_policy"]["Statement"][0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": env.account_id}}


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
def test_cd_trust_is_github_oidc_for_this_repository_and_environment(env_name: str) -> None:
    env = load_definitions(ROOT / "definitions").environment(env_name)
    [statement] = documents(env_name)["cd_deploy_trust_policy"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{env.account_id}:oidc-provider/{GITHUB_OIDC_HOST}"
    }
    # StringEquals, not StringLike: no other repository, branch, tag or environment matches.
    assert statement["Condition"] == {
        "StringEquals": {
            f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
            f"{GITHUB_OIDC_HOST}:sub": f"repo:{env.github_repository}:environment:{env_name}",
        }
    }


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
def test_cd_deploys_but_never_starts_runs_or_grants_itself_more(env_name: str) -> None:
    docs = documents(env_name)
    allowed = actions(docs["cd_deploy_policy"])
    assert "sagemaker:StartPipelineExecution" not in allowed
    assert not any(ESCALATION.match(a) for a in allowed), sorted(allowed)
    assert {"sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "ecr:PutImage"} <= allowed
    for statement in (
        docs["cd_deploy_policy"]["Statement"] + docs["pipeline_execution_policy"]["Statement"]
    ):
        if "iam:PassRole" in statement["Action"]:
            assert set(statement["Condition"]["StringEquals"]) == {"iam:PassedToService"}


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
def test_execution_role_reads_only_its_own_secrets(env_name: str) -> None:
    env = load_definitions(ROOT / "definitions").environment(env_name)
    policy = documents(env_name)["pipeline_execution_policy"]
    by_action = {a: s["Resource"] for s in policy["Statement"] for a in as_list(s["Action"])}
    prefix = f"arn:aws:secretsmanager:{env.region}:{env.account_id}:secret:"
    assert by_action["secretsmanager:GetSecretValue"] == sorted(
        {f"{prefix}{s.secrets_manager}-??????" for s in env.secrets.values() if s.secrets_manager}
    )
    assert by_action["ssm:GetParameter"] == sorted(
        f"arn:aws:ssm:{env.region}:{env.account_id}:parameter{s.ssm}"
        for s in env.secrets.values()
        if s.ssm
    )
    assert by_action["sagemaker:CreateTrainingJob"] == [
        f"arn:aws:sagemaker:{env.region}:{env.account_id}:processing-job/pipelines-*",
        f"arn:aws:sagemaker:{env.region}:{env.account_id}:training-job/pipelines-*",
    ]
    assert by_action["s3:GetObject"] == [f"arn:aws:s3:::{env.bucket}/{env.prefix}/*"]
    assert by_action["ecr:BatchGetImage"] == sorted(
        f"arn:aws:ecr:{env.region}:{env.account_id}:repository/{spec.repository}"
        for spec in env.images.values()
    )


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
def test_jobs_may_emit_only_the_events_pipelines_start_on(env_name: str) -> None:
    """The monitoring job's quality drop starts llm-twin-ct: its PutEvents must be allowed, for
    that source on the default bus and nothing else."""
    from components.monitor.events import SOURCE

    env = load_definitions(ROOT / "definitions").environment(env_name)
    policy = documents(env_name)["pipeline_execution_policy"]
    (statement,) = [s for s in policy["Statement"] if "events:PutEvents" in as_list(s["Action"])]
    assert statement["Resource"] == [
        f"arn:aws:events:{env.region}:{env.account_id}:event-bus/default"
    ]
    assert statement["Condition"] == {"StringEquals": {"events:source": [SOURCE]}}


def test_cli_prints_the_documents_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--definitions", str(ROOT / "definitions"), "iam", "--env", "staging"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["environment"] == "staging"
    for key in [*POLICIES, "cd_deploy_trust_policy"]:
        assert printed[key]["Version"] == "2012-10-17"
        assert printed[key]["Statement"]


def test_a_missing_repository_is_one_line_naming_file_and_field(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "definitions" / "environments" / "staging.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?m)^github_repository:.*\n", "", text), encoding="utf-8")
    assert main(["--definitions", str(project / "definitions"), "iam", "--env", "staging"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "environments/staging.yaml: github_repository: required by `sm-pipelines iam`" in err


def test_a_malformed_repository_is_a_definition_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "definitions" / "environments" / "staging.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        re.sub(r"(?m)^github_repository:.*$", "github_repository: just-a-name", text),
        encoding="utf-8",
    )
    assert main(["--definitions", str(project / "definitions"), "iam", "--env", "staging"]) == 2
    err = capsys.readouterr().err
    assert "staging.yaml:" in err and "github_repository: expected a GitHub repository" in err


def test_a_local_environment_has_no_iam(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--definitions", str(ROOT / "definitions"), "iam", "--env", "local"]) == 2
    assert capsys.readouterr().err == (
        "error: definitions/environments/local.yaml: kind: environment 'local' runs on this "
        "machine; IAM is for AWS environments\n"
    )


@pytest.mark.parametrize("env_name", AWS_ENVIRONMENTS)
def test_each_role_fits_the_inline_policy_quota(env_name: str) -> None:
    # IAM allows 10,240 characters of inline policy per role (whitespace not counted).
    for name in POLICIES:
        assert len(json.dumps(documents(env_name)[name], separators=(",", ":"))) <= 10_240
