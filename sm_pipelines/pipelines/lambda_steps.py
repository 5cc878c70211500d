"""Lambda steps: the function upsert deploys for this environment, called with pipeline values."""

from __future__ import annotations

from typing import Any

from sagemaker.lambda_helper import Lambda
from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

from sm_pipelines.config.pipeline import LambdaStepSpec
from sm_pipelines.pipelines.expressions import BuildContext


def build_lambda_step(step: LambdaStepSpec, ctx: BuildContext, session: Any) -> LambdaStep:
    outputs = [
        LambdaOutput(output_name=name, output_type=LambdaOutputTypeEnum[kind])
        for name, kind in step.outputs.items()
    ]
    built = LambdaStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        lambda_func=Lambda(function_arn=ctx.env.lambda_arn(step.function), session=session),
        inputs={key: ctx.resolve(value) for key, value in step.inputs.items()},
        outputs=outputs,
        depends_on=list(step.depends_on) or None,
    )
    for output in outputs:
        ctx.outputs[(step.name, output.output_name)] = built.properties.Outputs[output.output_name]
    return built
