"""`sm-pipelines bootstrap`: deploy an environment's account-level resources as one
CloudFormation stack (the template is sm_pipelines.infra's), through a change set.

Render, validate with cfn-lint, make a change set, print one line per resource it touches,
execute it and wait; an unchanged environment prints that nothing changes and executes nothing.
GitHub's OIDC provider exists once per account: where the account already has it outside this
stack (another environment's stack made it, or someone by hand), the template leaves it out and
the deploy role trusts the one there.

What moto's CloudFormation cannot create (run it with `skip_types`, see sm_pipelines.infra
.template): AWS::IAM::OIDCProvider and AWS::SecretsManager::Secret have no model there and are
skipped silently. Of what it does create, it ignores some properties: the bucket gets its
encryption but not versioning, the public access block, the lifecycle or the EventBridge
notifications; repositories get no lifecycle policy; a role's inline policy is not changed
by an update (the change set still shows Modify); `Tags` on an AWS::KMS::Key fail there
(moto reads TagKey/TagValue), one reason the stack's tags are given on the stack, from which
CloudFormation propagates them to every resource that takes tags.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sm_pipelines.aws import stacks
from sm_pipelines.aws.clients import aws_errors, client
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.naming import Names
from sm_pipelines.iam.documents import GITHUB_OIDC_HOST
from sm_pipelines.infra import lint
from sm_pipelines.infra.roles import OIDC_PROVIDER_ID
from sm_pipelines.infra.secrets import values_to_put
from sm_pipelines.infra.template import bootstrap_template, stack_name, template_body

OIDC_PROVIDER_TYPE = "AWS::IAM::OIDCProvider"
PLACEHOLDER_TYPE = "AWS::SecretsManager::Secret"


def bootstrap_environment(definitions: Definitions, env_name: str) -> EnvironmentConfig:
    return definitions.aws_environment(
        env_name,
        "nothing to bootstrap; bootstrap creates the account-level resources of an AWS environment",
    )


def render(definitions: Definitions, env_name: str, skip_types: Iterable[str] = ()) -> str:
    """The template text, clean under cfn-lint (no AWS call): `--template-only`."""
    env = bootstrap_environment(definitions, env_name)
    body = template_body(bootstrap_template(definitions, env, skip_types))
    lint.check(body, env.region, f"bootstrap template of {env.name}")
    return body


def _current_template(cfn: Any, name: str) -> dict[str, Any]:
    with aws_errors(f"cloudformation get_template {name}"):
        body = cfn.get_template(StackName=name).get("TemplateBody") or {}
    # botocore parses a JSON template into a dict; some endpoints give the text.
    return body if isinstance(body, dict) else json.loads(body)


def _oidc_provider_elsewhere(iam: Any, cfn: Any, env: EnvironmentConfig, deployed: bool) -> bool:
    """GitHub's provider exists in the account and this stack did not make it."""
    arn = Names(env).oidc_provider(GITHUB_OIDC_HOST)
    with aws_errors(f"iam get_open_id_connect_provider {arn}"):
        try:
            iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        except iam.exceptions.NoSuchEntityException:
            return False
    if not deployed:
        return True
    return OIDC_PROVIDER_ID not in _current_template(cfn, stack_name(env)).get("Resources", {})


def _change_set_name() -> str:
    return f"sm-pipelines-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def bootstrap(
    definitions: Definitions,
    env_name: str,
    say: Callable[[str], None] = print,
    skip_types: Iterable[str] = (),
) -> str:
    """Create or update the environment's bootstrap stack; returns `created`, `updated` or
    `unchanged`. Progress goes to `say`, one line at a time, as it happens."""
    env = bootstrap_environment(definitions, env_name)
    skip_types = sorted(set(skip_types))
    # Every client first: a malformed endpoint URL or profile fails before anything is made.
    cfn = client("cloudformation", env.region)
    iam = client("iam", env.region) if OIDC_PROVIDER_TYPE not in skip_types else None
    name = stack_name(env)
    described = stacks.stack(cfn, name)
    kind = stacks.change_type(name, described)
    with_provider = True
    if iam is not None and _oidc_provider_elsewhere(iam, cfn, env, kind == "UPDATE"):
        with_provider = False
        say(f"note: GitHub's OIDC provider exists in {env.account_id} outside {name}; kept as is")
    template = bootstrap_template(definitions, env, skip_types, with_provider)
    body = template_body(template)
    lint.check(body, env.region, f"bootstrap template of {env.name}")
    if skip_types:
        say(f"note: left out every {', '.join(skip_types)} (--skip-type)")
    change_set = stacks.create_change_set(
        cfn,
        name,
        _change_set_name(),
        kind,
        body,
        env.tags,
        f"sm-pipelines bootstrap --env {env.name}",
    )
    if change_set is None:
        say(f"stack {name}: nothing changes")
        return "unchanged"
    verb = "creating" if kind == "CREATE" else "updating"
    count = len(change_set.changes)
    say(f"stack {name}: {verb} ({count} resource change(s), change set {change_set.name})")
    for change in change_set.changes:
        say(f"  {change.line()}")
    status = stacks.execute(cfn, name, change_set)
    state = "created" if kind == "CREATE" else "updated"
    say(f"stack {name}: {state} ({status})")
    for key, value in sorted(stacks.outputs(cfn, name).items()):
        say(f"output {key}: {value}")
    added = {
        template["Resources"][c.logical_id]["Properties"]["Name"]
        for c in change_set.changes
        if c.action == "Add" and c.resource_type == PLACEHOLDER_TYPE
    }
    todo = values_to_put(env, added, include_other=kind == "CREATE")
    if todo:
        say("next: put the secrets' values (bootstrap creates them empty), then upsert:")
        for line in todo:
            say(f"  {line}")
    return state
