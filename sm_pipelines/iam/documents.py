"""Least-privilege IAM for one environment: the role the pipelines run as, the role EventBridge
uses to start them, and the role GitHub Actions assumes to deploy them.

`sm-pipelines iam --env E` prints the documents; an administrator creates the roles from them
once per account (the deploy role cannot create or change roles, on purpose). Every statement
names the environment's own resources: its bucket and prefix, ECR repositories, model package
group, endpoint, secrets, pipelines, the jobs SageMaker Pipelines starts, and their log groups.
The few actions AWS cannot scope to a resource are in `statements.WILDCARD_RESOURCE_ACTIONS`.
"""

from __future__ import annotations

from typing import Any

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.naming import Names
from sm_pipelines.definition import document
from sm_pipelines.errors import DefinitionError
from sm_pipelines.iam.deploy_role import cd_policy
from sm_pipelines.iam.execution_role import execution_policy, lambda_role
from sm_pipelines.iam.statements import Policy, Statement, allow, policy

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def lambda_functions(definitions: Definitions, env: EnvironmentConfig) -> list[str]:
    """ARNs of the Lambda functions the compiled pipelines call (their `FunctionArn`s)."""
    found: set[str] = set()
    for name in sorted(definitions.pipelines):
        found |= document.read(
            document.compiled_path(definitions.root, env.name, name)
        ).function_arns()
    return sorted(found)


def eventbridge_policy(env: EnvironmentConfig, pipelines: list[str]) -> Policy:
    """EventBridge rules start the pipelines, and may do nothing else."""
    arns = Names(env)
    return policy(
        [
            allow(
                "StartPipelines",
                ["sagemaker:StartPipelineExecution"],
                [arns.pipeline(name) for name in pipelines],
            )
        ]
    )


def service_trust(services: list[str], condition: Policy | None = None) -> Policy:
    """A trust policy that lets AWS services (and nothing else) assume a role."""
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": services[0] if len(services) == 1 else sorted(services)},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return policy([statement])


def cd_trust_policy(env: EnvironmentConfig, repository: str) -> Policy:
    """Only jobs of `repository` that run in the GitHub environment named like this one (where
    production has required reviewers) may assume the deploy role, through GitHub's OIDC."""
    return policy(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": Names(env).oidc_provider(GITHUB_OIDC_HOST)},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:environment:{env.name}",
                    }
                },
            }
        ]
    )


def _aws_environment(definitions: Definitions, name: str) -> tuple[EnvironmentConfig, str]:
    """The environment and its GitHub repository, or a one-line error naming file and field."""
    env = definitions.environment(name)
    doc = definitions.documents.get(f"environments/{name}")
    path = doc.path if doc else definitions.root / "environments" / f"{name}.yaml"
    if env.kind != "aws":
        raise DefinitionError(
            path, f"environment {name!r} runs on this machine; IAM is for AWS environments", "kind"
        )
    if not env.github_repository:
        raise DefinitionError(
            path,
            "required by `sm-pipelines iam`: the GitHub repository (owner/name) that deploys here",
            "github_repository",
        )
    return env, env.github_repository


def iam_documents(definitions: Definitions, env_name: str) -> dict[str, Any]:
    """The policy and trust policy of each of the environment's three roles, by name."""
    env, repository = _aws_environment(definitions, env_name)
    pipelines = sorted(definitions.pipelines)
    functions = lambda_functions(definitions, env)
    watches_bucket = any(
        trigger.kind == "s3-object-created" and trigger.enabled
        for pipeline in definitions.pipelines.values()
        for trigger in pipeline.triggers
    )
    # Custom events a pipeline listens for come from our own jobs (the monitoring job's drop).
    event_sources = sorted(
        {
            trigger.source
            for pipeline in definitions.pipelines.values()
            for trigger in pipeline.triggers
            if trigger.kind == "event" and trigger.enabled
        }
    )
    execution_services = ["sagemaker.amazonaws.com"]
    if functions and lambda_role(env) == env.role_arn:
        execution_services.append("lambda.amazonaws.com")
    return {
        "environment": env.name,
        "account_id": env.account_id,
        "region": env.region,
        "role_names": Names(env).roles(),
        "pipeline_execution_policy": execution_policy(env, pipelines, functions, event_sources),
        "pipeline_execution_trust_policy": service_trust(execution_services),
        "eventbridge_policy": eventbridge_policy(env, pipelines),
        # Only rules in this account may use the role (confused-deputy guard).
        "eventbridge_trust_policy": service_trust(
            ["events.amazonaws.com"], {"StringEquals": {"aws:SourceAccount": env.account_id}}
        ),
        "cd_deploy_policy": cd_policy(env, pipelines, functions, watches_bucket),
        "cd_deploy_trust_policy": cd_trust_policy(env, repository),
    }
