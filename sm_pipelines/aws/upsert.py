"""Ship compiled pipelines: upload the code under its hash, create or update each pipeline, then
apply the wiring around them (Lambda steps, the EventBridge role, topics, rules)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sm_pipelines import limits
from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors, client, is_not_found
from sm_pipelines.aws.functions import apply_functions
from sm_pipelines.aws.notifications import enable_eventbridge
from sm_pipelines.aws.objects import adopt, object_tags, ownership, put_object
from sm_pipelines.aws.roles import apply_events_role
from sm_pipelines.aws.rules import apply_rules
from sm_pipelines.aws.tags import as_list, resource_tags
from sm_pipelines.aws.topics import apply_topics
from sm_pipelines.compile.bundle import CodeBundle, CodeLocation, collect_bundle
from sm_pipelines.compile.compiler import CompiledPipeline, canonical_json, compile_environment
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.triggers import NewDataTrigger
from sm_pipelines.errors import AwsError
from sm_pipelines.events.rules import alert_rules, trigger_rules


def with_image_tag(env: EnvironmentConfig, tag: str | None) -> EnvironmentConfig:
    """The environment with every ECR-repository image pinned to `tag` (CD passes the SHA)."""
    if not tag:
        return env
    images = {
        key: spec.model_copy(update={"tag": tag}) if spec.repository else spec
        for key, spec in env.images.items()
    }
    return env.model_copy(update={"images": images})


def upload_code(bundle: CodeBundle, location: CodeLocation, s3: Any, env: EnvironmentConfig) -> str:
    """Put the bundle at its hashed keys, tagged as ours, unless already there; returns what
    happened. A bundle found there untagged (uploaded by a version before object tags) is
    adopted: see sm_pipelines.aws.objects."""
    bucket = location.bucket
    state = ownership(object_tags(s3, bucket, location.tarball_key), env)
    if state == "ours":
        return "already present"
    if state == "other-environment":
        return "already present (tagged for another environment sharing the bucket and prefix)"
    # Source files first, tarball last: the tarball's presence means the upload completed (and,
    # when adopting, that the whole bundle is tagged).
    objects: list[tuple[str, Callable[[], bytes]]] = [
        (location.source_prefix_key + path, lambda data=data: data) for path, data in bundle.files
    ]
    objects.append((location.tarball_key, bundle.tarball))
    if state == "untagged":
        adopted = sum(adopt(s3, env, bucket, key, body) for key, body in objects)
        return f"already present (tagged {adopted} objects uploaded without sm-pipelines tags)"
    for key, body in objects:
        put_object(s3, env, bucket, key, body())
    return f"uploaded {len(objects)} objects"


def describe(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """The deployed pipeline, or None when there is none."""
    action = f"sagemaker describe_pipeline {name}"
    with aws_errors(action):
        try:
            described = sagemaker.describe_pipeline(PipelineName=name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
    if not isinstance(described.get("PipelineDefinition"), str):
        # Diff and upsert would otherwise compare against an empty pipeline.
        raise AwsError(f"{action}: the answer holds no PipelineDefinition")
    return described


def _definition_argument(compiled: CompiledPipeline, env: EnvironmentConfig, s3: Any) -> dict:
    if len(compiled.definition) <= limits.DEFINITION_INLINE_MAX_CHARS:
        return {"PipelineDefinition": compiled.definition}
    digest = hashlib.sha256(compiled.definition.encode()).hexdigest()
    key = f"{env.prefix}/definitions/{compiled.name}/{digest}.json"
    put_object(s3, env, env.bucket, key, compiled.definition.encode())
    return {"PipelineDefinitionS3Location": {"Bucket": env.bucket, "ObjectKey": key}}


def _differences(deployed: dict[str, Any], compiled: CompiledPipeline, desired: dict) -> list[str]:
    found = []
    if canonical_json(deployed.get("PipelineDefinition", "{}")) != compiled.definition:
        found.append("definition")
    for key in ("RoleArn", "PipelineDisplayName", "PipelineDescription"):
        if deployed.get(key) != desired[key]:
            found.append(key)
    return found


UPSERT_IS_FOR_AWS = (
    "run it with `sm-pipelines run <pipeline> --local`; upsert and teardown act on AWS environments"
)


def aws_environment(definitions: Definitions, env_name: str) -> EnvironmentConfig:
    """The AWS environment upsert, diff and teardown act on."""
    return definitions.aws_environment(env_name, UPSERT_IS_FOR_AWS)


def upsert_pipelines(
    sagemaker: Any,
    s3: Any,
    definitions: Definitions,
    env: EnvironmentConfig,
    compiled: list[CompiledPipeline],
) -> list[Change]:
    tags = as_list(resource_tags(env))
    changes = []
    for item in compiled:
        config = definitions.pipeline(item.name)
        desired = {
            "RoleArn": env.role_arn,
            "PipelineDisplayName": config.display_name,
            "PipelineDescription": config.description,
        }
        deployed = describe(sagemaker, item.name)
        if deployed is None:
            with aws_errors(f"sagemaker create_pipeline {item.name}"):
                sagemaker.create_pipeline(
                    PipelineName=item.name,
                    **desired,
                    **_definition_argument(item, env, s3),
                    Tags=tags,
                )
            changes.append(Change("pipeline", item.name, "created"))
            continue
        differences = _differences(deployed, item, desired)
        if not differences:
            changes.append(Change("pipeline", item.name, "unchanged"))
            continue
        with aws_errors(f"sagemaker update_pipeline {item.name}"):
            sagemaker.update_pipeline(
                PipelineName=item.name, **desired, **_definition_argument(item, env, s3)
            )
        changes.append(Change("pipeline", item.name, "updated", ", ".join(differences)))
    return changes


def upsert(
    definitions: Definitions,
    env_name: str,
    pipelines: list[str] | None = None,
    image_tag: str | None = None,
) -> list[Change]:
    """Code, Lambda functions, pipelines, then the EventBridge role, alert topics and rules
    around them; idempotent, and what is no longer declared (and tagged as ours) is removed."""
    env = with_image_tag(aws_environment(definitions, env_name), image_tag)
    # Every client first: a malformed endpoint URL or profile fails in one line before anything
    # is built or uploaded (building reads AWS_ENDPOINT_URL too, through the SageMaker SDK).
    services = ["s3", "lambda", "sagemaker"] + ([] if pipelines else ["iam", "sns", "events"])
    api = {service: client(service, env.region) for service in services}
    s3 = api["s3"]
    bundle = collect_bundle(definitions.project_root)
    compiled = compile_environment(definitions, env_name, pipelines, bundle=bundle, env=env)
    tags = resource_tags(env)
    location = CodeLocation(bucket=env.bucket, prefix=env.prefix, digest=bundle.digest)
    changes = [Change("code", bundle.digest[:12], upload_code(bundle, location, s3, env))]
    changes += apply_functions(api["lambda"], definitions, env, bundle, tags)
    changes += upsert_pipelines(api["sagemaker"], s3, definitions, env, compiled)
    if pipelines:
        return changes  # a partial upsert leaves the environment's wiring alone
    triggered = sorted(p.name for p in definitions.pipelines.values() if p.triggers)
    changes += apply_events_role(api["iam"], env, triggered, tags)
    changes += apply_topics(api["sns"], definitions.alerts, env, tags)
    if any(
        isinstance(t, NewDataTrigger) for p in definitions.pipelines.values() for t in p.triggers
    ):
        changes.append(enable_eventbridge(s3, env.bucket))
    rules = trigger_rules(definitions, env) + alert_rules(definitions, definitions.alerts, env)
    changes += apply_rules(api["events"], rules, env, tags)
    return changes
