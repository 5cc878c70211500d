"""Model registration: a ModelStep that registers a version in the model package group."""

from __future__ import annotations

from typing import Any

from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.workflow.model_step import ModelStep

from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.compile.steps.jobs import retry_policies
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import PipelineConfig, RegisterStepSpec


def build(
    step: RegisterStepSpec, pipeline: PipelineConfig, ctx: BuildContext, built: dict[str, Any]
) -> ModelStep:
    env = ctx.env
    model = Model(
        image_uri=Names(env).image_uri(step.image),
        model_data=ctx.resolve(step.model_data),
        role=env.role_arn,
        env={key: ctx.resolve_str(value) for key, value in step.environment.items()} or None,
        sagemaker_session=ctx.session,
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
        customer_metadata_properties={
            key: ctx.resolve(value) for key, value in step.customer_metadata.items()
        }
        or None,
    )
    step_built = ModelStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        step_args=register_args,
        retry_policies=retry_policies(step.retry or pipeline.defaults.retry, job_step=False),
        depends_on=list(step.depends_on) or None,
    )
    ctx.outputs[(step.name, "model_package_arn")] = step_built.properties.ModelPackageArn
    return step_built
