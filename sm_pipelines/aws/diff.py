"""`sm-pipelines diff`: what upsert would change, as a unified diff per pipeline between the
deployed definition and the one compiled now, plus role, display name and description."""

from __future__ import annotations

import difflib
import json

from sm_pipelines.aws.clients import client
from sm_pipelines.aws.upsert import aws_environment, describe, with_image_tag
from sm_pipelines.compile.compiler import canonical_json, compile_environment
from sm_pipelines.config.loader import Definitions


def diff(
    definitions: Definitions,
    env_name: str,
    pipelines: list[str] | None = None,
    image_tag: str | None = None,
) -> list[str]:
    """A unified diff per pipeline between what is deployed and what would be upserted with the
    same `image_tag` (CD upserts commit-tagged images, so compare with the tag it deployed)."""
    env = with_image_tag(aws_environment(definitions, env_name), image_tag)
    sagemaker = client("sagemaker", env.region)
    out = []
    for item in compile_environment(definitions, env_name, pipelines, env=env):
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
