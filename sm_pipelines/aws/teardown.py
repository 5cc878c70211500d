"""Remove what sm-pipelines created in an environment, found by its tags, and nothing else.

The bootstrap stack (the account-level resources, see sm_pipelines.aws.bootstrap) is left alone
unless asked for by name: `include_bootstrap` deletes it last, after everything that uses its
roles; its resources with DeletionPolicy Retain (bucket, alert key, repositories, secrets,
GitHub's OIDC provider) stay in the account."""

from __future__ import annotations

import uuid
from typing import Any

from sm_pipelines.aws import stacks
from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors, client
from sm_pipelines.aws.functions import managed_functions
from sm_pipelines.aws.objects import delete_managed
from sm_pipelines.aws.roles import _role_tags, delete_role
from sm_pipelines.aws.rules import delete_rule, managed_rules
from sm_pipelines.aws.tags import is_managed
from sm_pipelines.aws.topics import managed_topics
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names
from sm_pipelines.infra.template import stack_name


def _managed_pipelines(sagemaker: Any, env: EnvironmentConfig) -> list[str]:
    found = []
    with aws_errors("sagemaker list_pipelines"):
        for page in sagemaker.get_paginator("list_pipelines").paginate():
            for pipeline in page.get("PipelineSummaries", []):
                tags = sagemaker.list_tags(ResourceArn=pipeline["PipelineArn"]).get("Tags", [])
                if is_managed({t["Key"]: t["Value"] for t in tags}, env):
                    found.append(pipeline["PipelineName"])
    return found


def teardown(env: EnvironmentConfig, include_bootstrap: bool = False) -> list[Change]:
    """Rules first (so nothing starts a pipeline mid-teardown), then topics, the EventBridge
    role, functions, pipelines, and the code and definitions upsert uploaded: only the objects
    under <prefix>/code/ and <prefix>/definitions/ that carry the sm-pipelines tags for this
    environment; anything else there is kept and counted (see sm_pipelines.aws.objects).
    Then the bootstrap stack: deleted with `include_bootstrap`, else reported as kept."""
    # Every client first: a malformed endpoint URL or profile fails before anything is deleted.
    events, sns, iam, lam, sagemaker, s3, cfn = (
        client(service, env.region)
        for service in ("events", "sns", "iam", "lambda", "sagemaker", "s3", "cloudformation")
    )
    changes = []
    for name in sorted(managed_rules(events, env)):
        delete_rule(events, name)
        changes.append(Change("rule", name, "deleted"))
    for arn in managed_topics(sns, env):
        with aws_errors(f"sns delete_topic {arn}"):
            sns.delete_topic(TopicArn=arn)
        changes.append(Change("topic", arn.rsplit(":", 1)[-1], "deleted"))
    name = Names(env).events_role()
    with aws_errors(f"iam role {name}"):
        try:
            managed_role = is_managed(_role_tags(iam, name), env)
        except iam.exceptions.NoSuchEntityException:
            managed_role = False
    if managed_role:
        delete_role(iam, name)
        changes.append(Change("role", name, "deleted"))
    for function in sorted(managed_functions(lam, env)):
        with aws_errors(f"lambda delete_function {function}"):
            lam.delete_function(FunctionName=function)
        changes.append(Change("function", function, "deleted"))
    for pipeline in _managed_pipelines(sagemaker, env):
        with aws_errors(f"sagemaker delete_pipeline {pipeline}"):
            sagemaker.delete_pipeline(PipelineName=pipeline, ClientRequestToken=uuid.uuid4().hex)
        changes.append(Change("pipeline", pipeline, "deleted"))
    for folder in ("code", "definitions"):
        prefix = f"s3://{env.bucket}/{env.prefix}/{folder}/"
        deleted, kept = delete_managed(s3, env, env.bucket, f"{env.prefix}/{folder}/")
        if deleted:
            changes.append(Change("objects", prefix, "deleted", _objects(deleted)))
        if kept:
            changes.append(
                Change(
                    "objects",
                    prefix,
                    "kept",
                    f"{_objects(kept)} not tagged as uploaded by sm-pipelines for {env.name}",
                )
            )
    changes += _bootstrap_stack(cfn, env, include_bootstrap)
    return changes


def _bootstrap_stack(cfn: Any, env: EnvironmentConfig, include: bool) -> list[Change]:
    name = stack_name(env)
    if include:
        if stacks.delete(cfn, name):
            retained = "bucket, alert key, repositories, secrets and OIDC provider retained"
            return [Change("stack", name, "deleted", retained)]
        return []
    if stacks.stack(cfn, name) is None:
        return []
    return [Change("stack", name, "kept", "the bootstrap stack; --include-bootstrap deletes it")]


def _objects(count: int) -> str:
    return f"{count} object" if count == 1 else f"{count} objects"
