"""Build a native sagemaker.workflow Pipeline from a pipeline definition and an environment."""

from __future__ import annotations

import graphlib
from typing import Any

from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig

from sm_pipelines.code_bundle import CodeLocation
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.pipeline import (
    ConditionStepSpec,
    FailStepSpec,
    LambdaStepSpec,
    PipelineConfig,
    ProcessingStepSpec,
    RegisterStepSpec,
    TrainingStepSpec,
)
from sm_pipelines.config.references import step_dependencies
from sm_pipelines.pipelines.control_steps import build_condition_step, build_fail_step
from sm_pipelines.pipelines.expressions import BuildContext
from sm_pipelines.pipelines.job_steps import build_processing_step, build_training_step
from sm_pipelines.pipelines.lambda_steps import build_lambda_step
from sm_pipelines.pipelines.model_steps import build_register_step
from sm_pipelines.pipelines.parameters import build_parameter


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
    ctx = BuildContext(env=env, parameters=parameters)
    built: dict[str, Any] = {}
    for step in _construction_order(pipeline):
        if isinstance(step, ProcessingStepSpec):
            built[step.name] = build_processing_step(step, pipeline, ctx, code, session)
        elif isinstance(step, TrainingStepSpec):
            built[step.name] = build_training_step(step, pipeline, ctx, code, session)
        elif isinstance(step, RegisterStepSpec):
            built[step.name] = build_register_step(step, pipeline, ctx, session)
        elif isinstance(step, ConditionStepSpec):
            built[step.name] = build_condition_step(step, ctx, built)
        elif isinstance(step, LambdaStepSpec):
            built[step.name] = build_lambda_step(step, ctx, session)
        elif isinstance(step, FailStepSpec):
            built[step.name] = build_fail_step(step, ctx)
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
