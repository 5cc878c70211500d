"""Compile pipelines to definition JSON: deterministic text, zero AWS calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sm_pipelines.code_bundle import CodeBundle, CodeLocation, collect_bundle
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions

COMPILED_DIR = "compiled"


@dataclass(frozen=True)
class CompiledPipeline:
    name: str
    environment: str
    definition: str
    code: CodeLocation

    def path(self, definitions_root: Path) -> Path:
        return definitions_root / COMPILED_DIR / self.environment / f"{self.name}.json"


def canonical_json(definition: str) -> str:
    """The SDK's JSON re-indented so reviews see one field per line; key order is the SDK's."""
    return json.dumps(json.loads(definition), indent=2, ensure_ascii=False) + "\n"


def compile_environment(
    definitions: Definitions,
    env_name: str,
    pipelines: list[str] | None = None,
    bundle: CodeBundle | None = None,
    env: EnvironmentConfig | None = None,
) -> list[CompiledPipeline]:
    """Compile the named pipelines (all by default) for one environment.

    `env` replaces the environment's loaded settings (upsert pins image tags this way).
    """
    from sm_pipelines.pipelines.builder import build_pipeline
    from sm_pipelines.pipelines.sdk_session import offline_session

    env = env or definitions.environment(env_name)
    names = pipelines or sorted(definitions.pipelines)
    bundle = bundle or collect_bundle(definitions.project_root)
    code = CodeLocation(bucket=env.bucket, prefix=env.prefix, digest=bundle.digest)
    compiled = []
    with offline_session(env.region, env.bucket) as session:
        for name in names:
            sdk_pipeline = build_pipeline(definitions.pipeline(name), env, code, session)
            compiled.append(
                CompiledPipeline(
                    name=name,
                    environment=env_name,
                    definition=canonical_json(sdk_pipeline.definition()),
                    code=code,
                )
            )
    return compiled
