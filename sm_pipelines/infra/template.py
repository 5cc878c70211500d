"""Assemble the bootstrap template of one environment, and render it as the text CloudFormation
receives.

`skip_types` leaves out every resource of the given types, and the `DependsOn` entries that name
them. It exists for emulators: moto's CloudFormation (5.2) has no model for
`AWS::IAM::OIDCProvider` or `AWS::SecretsManager::Secret`, and it does not fail on them: it logs
"No Moto CloudFormation support", reports the stack CREATE_COMPLETE and creates nothing. Skipping
them makes the deployed stack say what it holds; the full template is what AWS receives and is
checked by cfn-lint in the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.naming import Names
from sm_pipelines.errors import UserError
from sm_pipelines.iam.documents import iam_documents
from sm_pipelines.infra.keys import KEY_ID, alert_key
from sm_pipelines.infra.repositories import image_repositories
from sm_pipelines.infra.resources import Resource
from sm_pipelines.infra.roles import DEPLOY_ROLE_ID, EVENTS_ROLE_ID, EXECUTION_ROLE_ID, roles
from sm_pipelines.infra.secrets import secret_placeholders
from sm_pipelines.infra.storage import BUCKET_ID, artifact_bucket

Template = dict[str, Any]
# CloudFormation's limit on a template passed inline (TemplateBody), in bytes.
TEMPLATE_BODY_MAX_BYTES = 51_200


def stack_name(env: EnvironmentConfig) -> str:
    """`llm-twin-staging-bootstrap`: one stack per environment; teardown knows it by name."""
    return f"{Names(env).prefix}-{env.name}-bootstrap"


def _outputs(resources: dict[str, Resource]) -> dict[str, Any]:
    wanted = {
        "ArtifactBucketName": (BUCKET_ID, {"Ref": BUCKET_ID}),
        "ExecutionRoleArn": (EXECUTION_ROLE_ID, {"Fn::GetAtt": [EXECUTION_ROLE_ID, "Arn"]}),
        "EventBridgeRoleArn": (EVENTS_ROLE_ID, {"Fn::GetAtt": [EVENTS_ROLE_ID, "Arn"]}),
        # What CD's GitHub environment needs (the role its workflows assume).
        "DeployRoleArn": (DEPLOY_ROLE_ID, {"Fn::GetAtt": [DEPLOY_ROLE_ID, "Arn"]}),
        "AlertsKeyArn": (KEY_ID, {"Fn::GetAtt": [KEY_ID, "Arn"]}),
    }
    return {name: {"Value": value} for name, (rid, value) in wanted.items() if rid in resources}


def _skip(resources: dict[str, Resource], skip_types: Iterable[str]) -> dict[str, Resource]:
    skipped = set(skip_types)
    present = {r["Type"] for r in resources.values()}
    unknown = sorted(skipped - present)
    if unknown:
        raise UserError(
            f"--skip-type {unknown[0]}: the template has no resource of that type "
            f"(it has {', '.join(sorted(present))})"
        )
    gone = {rid for rid, r in resources.items() if r["Type"] in skipped}
    kept = {}
    for rid, resource in resources.items():
        if rid in gone:
            continue
        depends = [d for d in resource.get("DependsOn", []) if d not in gone]
        resource = {k: v for k, v in resource.items() if k != "DependsOn"}
        if depends:
            resource["DependsOn"] = depends
        kept[rid] = resource
    return kept


def bootstrap_template(
    definitions: Definitions,
    env: EnvironmentConfig,
    skip_types: Iterable[str] = (),
    with_oidc_provider: bool = True,
) -> Template:
    """The account-level resources of `env` (an AWS environment with a GitHub repository) as a
    CloudFormation template. `with_oidc_provider`: False where the account already has GitHub's
    provider outside this stack."""
    documents = iam_documents(definitions, env.name)
    resources: dict[str, Resource] = {
        **artifact_bucket(env),
        **alert_key(env),
        **image_repositories(env),
        **roles(env, documents, with_oidc_provider),
        **secret_placeholders(env),
    }
    resources = _skip(resources, skip_types)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"sm-pipelines bootstrap of {env.name}: artifact bucket, alert key, image "
            "repositories, roles and secret placeholders (`sm-pipelines bootstrap` renders it)"
        ),
        "Resources": resources,
        "Outputs": _outputs(resources),
    }


def template_body(template: Template) -> str:
    """The text sent as TemplateBody: indented for people reading it in the console, compact
    where that would pass CloudFormation's limit. The same template always gives the same text,
    so an unchanged environment makes an empty change set."""
    text = json.dumps(template, indent=2) + "\n"
    if len(text.encode()) > TEMPLATE_BODY_MAX_BYTES:
        text = json.dumps(template, separators=(",", ":"))
    if len(text.encode()) > TEMPLATE_BODY_MAX_BYTES:
        raise UserError(
            f"the bootstrap template is {len(text.encode())} bytes; CloudFormation takes "
            f"{TEMPLATE_BODY_MAX_BYTES} inline"
        )
    return text
