"""Model registration: a ModelStep that registers a version in the model package group."""

from __future__ import annotations

from typing import Any

from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.workflow.model_step import ModelStep

from sm_pipelines.config.pipeline import PipelineConfig, RegisterStepSpec
from sm_pipelines.pipelines.expressions import BuildContext
from sm_pipelines.pipelines.job_steps import retry_policies


def build_register_step(
    step: RegisterStepSpec, pipeline: PipelineConfig, ctx: BuildContext, session: Any
) -> ModelStep:
    env = ctx.env
    model = Model(
        image_uri=env.image_uri(step.image),
        model_data=ctx.resolve(step.model_data),
        role=env.role_arn,
        env={key: ctx.resolve_str(value) for key, value in step.environment.items()} or None,
        sagemaker_session=session,
    )
    metrics = None
    if step.metrics is not None:
        metrics = ModelMetrics(
            model_statistics=MetricsSource(
                s3_uri=ctx.resolve(step.metrics.report), content_type=step.metrics.content_type
            )
        )
    register_args = model.register(
        content_types=list(step.content_types),
        response_types=list(step.response_types),
        inference_instances=[env.instance_type(key) for key in step.inference_instance_types],
        model_package_group_name=env.model_package_group,
        approval_status=ctx.resolve(step.approval_status),
        model_metrics=metrics,
        description=step.model_package_description or step.description,
    )
    built = ModelStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        step_args=register_args,
        retry_policies=retry_policies(step.retry or pipeline.defaults.retry, job_step=False),
        depends_on=list(step.depends_on) or None,
    )
    ctx.outputs[(step.name, "model_package_arn")] = built.properties.ModelPackageArn
    return built
