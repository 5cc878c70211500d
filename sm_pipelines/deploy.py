"""Ship compiled pipelines: upload the code under its hash, diff, create or update each pipeline."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sm_pipelines import limits
from sm_pipelines.aws import aws_errors, client, is_not_found
from sm_pipelines.code_bundle import CodeBundle, CodeLocation, collect_bundle
from sm_pipelines.compile import CompiledPipeline, canonical_json, compile_environment
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions

MANAGED_BY_TAG = "sm-pipelines:managed-by"
ENVIRONMENT_TAG = "sm-pipelines:environment"


@dataclass(frozen=True)
class PipelineChange:
    name: str
    state: str  # created, updated, unchanged
    detail: str = ""


def with_image_tag(env: EnvironmentConfig, tag: str | None) -> EnvironmentConfig:
    """The environment with every ECR-repository image pinned to `tag` (CD passes the SHA)."""
    if not tag:
        return env
    images = {
        key: spec.model_copy(update={"tag": tag}) if spec.repository else spec
        for key, spec in env.images.items()
    }
    return env.model_copy(update={"images": images})


def resource_tags(env: EnvironmentConfig) -> dict[str, str]:
    """The environment's tags plus the two that mark what sm-pipelines created."""
    return {**env.tags, MANAGED_BY_TAG: "sm-pipelines", ENVIRONMENT_TAG: env.name}


def upload_code(bundle: CodeBundle, location: CodeLocation, s3: Any) -> str:
    """Put the bundle at its hashed keys unless already there; returns what happened."""
    with aws_errors(f"s3 head s3://{location.bucket}/{location.tarball_key}"):
        try:
            s3.head_object(Bucket=location.bucket, Key=location.tarball_key)
            return "already present"
        except Exception as exc:
            if not (is_not_found(exc) or "404" in str(exc)):
                raise
    # Source files first, tarball last: the tarball's presence means the upload completed.
    for path, data in bundle.files:
        with aws_errors(f"s3 put s3://{location.bucket}/{location.source_prefix_key}{path}"):
            s3.put_object(Bucket=location.bucket, Key=location.source_prefix_key + path, Body=data)
    with aws_errors(f"s3 put {location.tarball_uri}"):
        s3.put_object(Bucket=location.bucket, Key=location.tarball_key, Body=bundle.tarball())
    return f"uploaded {len(bundle.files) + 1} objects"


def describe(sagemaker: Any, name: str) -> dict[str, Any] | None:
    with aws_errors(f"sagemaker describe_pipeline {name}"):
        try:
            return sagemaker.describe_pipeline(PipelineName=name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise


def _definition_argument(compiled: CompiledPipeline, env: EnvironmentConfig, s3: Any) -> dict:
    if len(compiled.definition) <= limits.DEFINITION_INLINE_MAX_CHARS:
        return {"PipelineDefinition": compiled.definition}
    digest = hashlib.sha256(compiled.definition.encode()).hexdigest()
    key = f"{env.prefix}/definitions/{compiled.name}/{digest}.json"
    with aws_errors(f"s3 put s3://{env.bucket}/{key}"):
        s3.put_object(Bucket=env.bucket, Key=key, Body=compiled.definition.encode())
    return {"PipelineDefinitionS3Location": {"Bucket": env.bucket, "ObjectKey": key}}


def _differences(deployed: dict[str, Any], compiled: CompiledPipeline, desired: dict) -> list[str]:
    found = []
    if canonical_json(deployed.get("PipelineDefinition", "{}")) != compiled.definition:
        found.append("definition")
    for key in ("RoleArn", "PipelineDisplayName", "PipelineDescription"):
        if deployed.get(key) != desired[key]:
            found.append(key)
    return found


def upsert(
    definitions: Definitions,
    env_name: str,
    pipelines: list[str] | None = None,
    image_tag: str | None = None,
) -> tuple[str, list[PipelineChange]]:
    """Upload code, then create, update or leave each pipeline; idempotent."""
    env = with_image_tag(definitions.environment(env_name), image_tag)
    bundle = collect_bundle(definitions.project_root)
    compiled = compile_environment(definitions, env_name, pipelines, bundle=bundle, env=env)
    s3 = client("s3", env.region)
    sagemaker = client("sagemaker", env.region)
    code_state = upload_code(bundle, compiled[0].code, s3) if compiled else "no pipelines"
    tags = [{"Key": k, "Value": v} for k, v in sorted(resource_tags(env).items())]
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
            changes.append(PipelineChange(item.name, "created"))
            continue
        differences = _differences(deployed, item, desired)
        if not differences:
            changes.append(PipelineChange(item.name, "unchanged"))
            continue
        with aws_errors(f"sagemaker update_pipeline {item.name}"):
            sagemaker.update_pipeline(
                PipelineName=item.name, **desired, **_definition_argument(item, env, s3)
            )
        changes.append(PipelineChange(item.name, "updated", ", ".join(differences)))
    return code_state, changes


def diff(definitions: Definitions, env_name: str, pipelines: list[str] | None = None) -> list[str]:
    """A unified diff per pipeline between what is deployed and what would be upserted."""
    env = definitions.environment(env_name)
    sagemaker = client("sagemaker", env.region)
    out = []
    for item in compile_environment(definitions, env_name, pipelines):
        deployed = describe(sagemaker, item.name)
        if deployed is None:
            out.append(
                f"{item.name}: not deployed in {env.account_id}/{env.region}; upsert creates it\n"
            )
            continue
        deployed_text = canonical_json(deployed.get("PipelineDefinition", "{}"))
        lines = list(
            difflib.unified_diff(
                deployed_text.splitlines(keepends=True),
                item.definition.splitlines(keepends=True),
                fromfile=f"deployed/{env_name}/{item.name}.json",
                tofile=f"compiled/{env_name}/{item.name}.json",
            )
        )
        config = definitions.pipeline(item.name)
        for key, want in (
            ("RoleArn", env.role_arn),
            ("PipelineDisplayName", config.display_name),
            ("PipelineDescription", config.description),
        ):
            if deployed.get(key) != want:
                lines.append(
                    f"{item.name}: {key}: {json.dumps(deployed.get(key))} -> {json.dumps(want)}\n"
                )
        out.append("".join(lines))
    return [text for text in out if text]
