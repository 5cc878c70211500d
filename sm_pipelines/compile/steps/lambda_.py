"""Lambda steps: the function upsert deploys for this environment, called with pipeline values."""

from __future__ import annotations

from typing import Any

from sagemaker.lambda_helper import Lambda
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import LambdaStepSpec, PipelineConfig


def build(
    step: LambdaStepSpec, pipeline: PipelineConfig, ctx: BuildContext, built: dict[str, Any]
) -> LambdaStep:
    outputs = [
        LambdaOutput(output_name=name, output_type=LambdaOutputTypeEnum[kind])
        for name, kind in step.outputs.items()
    ]
    step_built = LambdaStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        lambda_func=Lambda(
            function_arn=Names(ctx.env).lambda_arn(step.function), session=ctx.session
        ),
        inputs={key: ctx.resolve(value) for key, value in step.inputs.items()},
        outputs=outputs,
        depends_on=list(step.depends_on) or None,
    )
    for output in outputs:
        ctx.outputs[(step.name, output.output_name)] = step_built.properties.Outputs[
            output.output_name
        ]
    return step_built
