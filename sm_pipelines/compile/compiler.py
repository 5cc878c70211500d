"""Compile pipelines to definition JSON: YAML models -> sagemaker.workflow classes ->
deterministic text, with zero AWS calls.

Each step is built by the module its kind names in `config.step_kinds` (`build(step, pipeline,
ctx, built)`), in an order where every step comes after what it reads and after the steps of
its branches.
"""

from __future__ import annotations

import graphlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig

from sm_pipelines.compile.bundle import CodeBundle, CodeLocation, collect_bundle
from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.compile.parameters import build_parameter
from sm_pipelines.compile.session import offline_session
from sm_pipelines.config.checks import step_dependencies
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.pipeline import ConditionStepSpec, PipelineConfig
from sm_pipelines.config.step_kinds import BY_YAML_KIND
from sm_pipelines.definition.document import compiled_path


@dataclass(frozen=True)
class CompiledPipeline:
    name: str
    environment: str
    definition: str
    code: CodeLocation

    def path(self, definitions_root: Path) -> Path:
        return compiled_path(definitions_root, self.environment, self.name)


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


def _construction_order(pipeline: PipelineConfig) -> list[Any]:
    """Steps ordered so each is built after what it reads and after its branch steps."""
    graph: dict[str, set[str]] = {}
    names = {step.name for step in pipeline.steps}
    for step in pipeline.steps:
        needs = (step_dependencies(step) - set(step.depends_on)) & names
        if isinstance(step, ConditionStepSpec):
            needs |= set(step.if_steps) | set(step.else_steps)
        graph[step.name] = needs
    order = list(graphlib.TopologicalSorter(graph).static_order())
    by_name = {step.name: step for step in pipeline.steps}
    return [by_name[name] for name in order]


def build_pipeline(
    pipeline: PipelineConfig, env: EnvironmentConfig, code: CodeLocation, session: Any
) -> Pipeline:
    overrides = env.parameter_defaults.get(pipeline.name, {})
    parameters = {
        name: build_parameter(name, spec, overrides.get(name, spec.default))
        for name, spec in pipeline.parameters.items()
    }
    ctx = BuildContext(env=env, parameters=parameters, code=code, session=session)
    built: dict[str, Any] = {}
    for step in _construction_order(pipeline):
        builder = importlib.import_module(BY_YAML_KIND[step.kind].compile_module or "")
        built[step.name] = builder.build(step, pipeline, ctx, built)
    in_branch = {
        name
        for step in pipeline.steps
        if isinstance(step, ConditionStepSpec)
        for name in (*step.if_steps, *step.else_steps)
    }
    return Pipeline(
        name=pipeline.name,
        parameters=list(parameters.values()),
        steps=[built[step.name] for step in pipeline.steps if step.name not in in_branch],
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
    )
