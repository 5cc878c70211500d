"""The environment's three roles, with the documents `sm-pipelines iam` prints, and GitHub's
OIDC provider that the CD role trusts.

The documents come from `sm_pipelines.iam.documents.iam_documents`, never written again here, so
what an administrator reviews with `sm-pipelines iam` is what bootstrap deploys. Each role holds
its policy inline (IAM allows 10,240 characters of inline policy per role; the execution
policy, the largest, is about 7,000), given as JSON text: a type CloudFormation documents for
`PolicyDocument` and which cfn-lint parses and checks like an object. IAM then stores exactly
the text `sm-pipelines iam` prints; moto's CloudFormation, given an object, stores it as a
Python dict and answers GetRolePolicy with its repr, which no JSON reader (upsert's check of the
EventBridge role included) can read.
"""

from __future__ import annotations

import json
from typing import Any

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.iam.documents import GITHUB_OIDC_HOST
from sm_pipelines.infra.resources import Resource, retained

EXECUTION_ROLE_ID = "ExecutionRole"
EVENTS_ROLE_ID = "EventBridgeRole"
DEPLOY_ROLE_ID = "DeployRole"
OIDC_PROVIDER_ID = "GitHubOidcProvider"
# upsert checks the EventBridge role's inline policy under this name (sm_pipelines.aws.roles
# POLICY_NAME; a test holds the two equal): another name would read as a missing policy.
EVENTS_POLICY_NAME = "start-pipelines"
EXECUTION_POLICY_NAME = "pipeline-execution"
DEPLOY_POLICY_NAME = "cd-deploy"
# The audience GitHub's aws-actions/configure-aws-credentials asks tokens for.
GITHUB_AUDIENCE = "sts.amazonaws.com"


def role_path(role_arn: str) -> str:
    """The IAM path of `arn:...:role/<path>/<name>`: `/` for a role with none."""
    parts = role_arn.split(":role/", 1)[1].split("/")[:-1]
    return "/" + "".join(f"{part}/" for part in parts)


def _role(name: str, path: str, trust: Any, policy_name: str, policy: Any, text: str) -> Resource:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "Path": path,
            "Description": text,
            "AssumeRolePolicyDocument": trust,
            "Policies": [{"PolicyName": policy_name, "PolicyDocument": json.dumps(policy)}],
        },
    }


def github_oidc_provider() -> dict[str, Resource]:
    """One per account and URL: a second `bootstrap` of another environment in the same account
    finds it (see sm_pipelines.aws.bootstrap) and leaves it to the stack that made it; retained,
    since the other environments' deploy roles trust it too. No thumbprints: IAM verifies
    GitHub's certificate against its own trusted CAs."""
    return {
        OIDC_PROVIDER_ID: retained(
            {
                "Type": "AWS::IAM::OIDCProvider",
                "Properties": {
                    "Url": f"https://{GITHUB_OIDC_HOST}",
                    "ClientIdList": [GITHUB_AUDIENCE],
                },
            }
        )
    }


def roles(
    env: EnvironmentConfig, documents: dict[str, Any], with_oidc_provider: bool = True
) -> dict[str, Resource]:
    """`documents`: `iam_documents(...)` of the environment. `with_oidc_provider`: the stack
    creates GitHub's provider (False where the account already has it)."""
    names = documents["role_names"]
    repository = env.github_repository
    resources = github_oidc_provider() if with_oidc_provider else {}
    resources[EXECUTION_ROLE_ID] = _role(
        names["pipeline_execution"],
        role_path(env.role_arn),
        documents["pipeline_execution_trust_policy"],
        EXECUTION_POLICY_NAME,
        documents["pipeline_execution_policy"],
        f"SageMaker Pipelines and their jobs in {env.name} (sm-pipelines)",
    )
    resources[EVENTS_ROLE_ID] = _role(
        names["eventbridge"],
        "/",
        documents["eventbridge_trust_policy"],
        EVENTS_POLICY_NAME,
        documents["eventbridge_policy"],
        f"EventBridge starts the {env.name} pipelines (sm-pipelines)",
    )
    deploy = _role(
        names["cd_deploy"],
        "/",
        documents["cd_deploy_trust_policy"],
        DEPLOY_POLICY_NAME,
        documents["cd_deploy_policy"],
        f"GitHub Actions of {repository} deploy to {env.name} (sm-pipelines)",
    )
    if with_oidc_provider:
        # IAM refuses a trust policy whose federated principal does not exist yet.
        deploy["DependsOn"] = [OIDC_PROVIDER_ID]
    resources[DEPLOY_ROLE_ID] = deploy
    return resources
