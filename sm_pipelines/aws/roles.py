"""The role EventBridge assumes to start the pipelines, allowed to do that and nothing else."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors
from sm_pipelines.aws.tags import as_list, is_managed
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names
from sm_pipelines.iam.documents import eventbridge_policy, service_trust

POLICY_NAME = "start-pipelines"


def _document(value: Any) -> dict[str, Any]:
    # boto3 decodes policy documents; some endpoints return them URL-encoded text.
    return value if isinstance(value, dict) else json.loads(unquote(value))


def _get_role(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        return iam.get_role(RoleName=name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return None


def delete_role(iam: Any, name: str) -> None:
    with aws_errors(f"iam delete_role {name}"):
        for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)


def apply_events_role(
    iam: Any, env: EnvironmentConfig, pipelines: list[str], tags: dict[str, str]
) -> list[Change]:
    name = Names(env).events_role()
    with aws_errors(f"iam get_role {name}"):
        role = _get_role(iam, name)
    if not pipelines:
        if role is None:
            return []
        with aws_errors(f"iam list_role_tags {name}"):
            managed = is_managed(_role_tags(iam, name), env)
        if managed:
            delete_role(iam, name)
            return [Change("role", name, "deleted")]
        return []
    trust = service_trust(
        ["events.amazonaws.com"], {"StringEquals": {"aws:SourceAccount": env.account_id}}
    )
    policy = eventbridge_policy(env, pipelines)
    with aws_errors(f"iam role {name}"):
        if role is None:
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description="EventBridge starts the LLM Twin pipelines (sm-pipelines)",
                Tags=as_list(tags),
            )
            iam.put_role_policy(
                RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy)
            )
            return [Change("role", name, "created")]
        differences = []
        if _document(role["AssumeRolePolicyDocument"]) != trust:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            differences.append("trust")
        current = None
        if POLICY_NAME in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
            current = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
        if current is None or _document(current) != policy:
            iam.put_role_policy(
                RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy)
            )
            differences.append("policy")
    return [Change("role", name, "updated" if differences else "unchanged", ", ".join(differences))]


def _role_tags(iam: Any, name: str) -> dict[str, str]:
    tags = iam.list_role_tags(RoleName=name).get("Tags", [])
    return {t["Key"]: t["Value"] for t in tags}
