"""Processing steps: code at /opt/ml/processing/input/code (PYTHONPATH), inputs at
/opt/ml/processing/input/<name>, outputs from /opt/ml/processing/output/<name>, entrypoint
`python3 -m components.<component>`."""

from __future__ import annotations

from typing import Any

from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.workflow.functions import Join
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep

from sm_pipelines.compile.bundle import CODE_PACKAGE
from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.compile.steps.jobs import cache_config, job_environment, retry_policies
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import PipelineConfig, ProcessingStepSpec
from sm_pipelines.config.values import ExecutionRef

PROCESSING_ROOT = "/opt/ml/processing"
PROCESSING_CODE_DIR = f"{PROCESSING_ROOT}/input/code"


def build(
    step: ProcessingStepSpec, pipeline: PipelineConfig, ctx: BuildContext, built: dict[str, Any]
) -> ProcessingStep:
    env, code, session = ctx.env, ctx.code, ctx.session
    processor = Processor(
        role=env.role_arn,
        image_uri=Names(env).image_uri(step.image),
        instance_count=step.instance_count,
        instance_type=env.instance_type(step.instance_type),
        volume_size_in_gb=step.volume_size_gb,
        max_runtime_in_seconds=step.max_runtime_seconds,
        entrypoint=["python3", "-m", f"{CODE_PACKAGE}.{step.component}"],
        env=job_environment(step, ctx, PROCESSING_CODE_DIR),
        sagemaker_session=session,
    )
    inputs = [
        ProcessingInput(
            input_name="code", source=code.source_prefix_uri, destination=PROCESSING_CODE_DIR
        )
    ]
    inputs += [
        ProcessingInput(
            input_name=name,
            source=ctx.resolve(value),
            destination=f"{PROCESSING_ROOT}/input/{name}",
        )
        for name, value in step.inputs.items()
    ]
    outputs = []
    for name, spec in step.outputs.items():
        key = ctx.resolve(spec.key if spec.key is not None else ExecutionRef("PipelineExecutionId"))
        # A key that is itself a "/"-join becomes path segments of one flat Std:Join.
        segments = key.values if isinstance(key, Join) and key.on == "/" else [key]
        destination = Join(on="/", values=[env.s3_uri(pipeline.name, step.name), *segments, name])
        outputs.append(
            ProcessingOutput(
                output_name=name,
                source=f"{PROCESSING_ROOT}/output/{name}",
                destination=destination,
            )
        )
    property_files = [
        PropertyFile(name=name, output_name=spec.output, path=spec.path)
        for name, spec in step.property_files.items()
    ]
    step_built = ProcessingStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        step_args=processor.run(
            inputs=inputs,
            outputs=outputs,
            arguments=[ctx.resolve_str(arg) for arg in step.arguments] or None,
        ),
        cache_config=cache_config(step, pipeline),
        retry_policies=retry_policies(step.retry or pipeline.defaults.retry),
        property_files=property_files or None,
        depends_on=list(step.depends_on) or None,
    )
    for name in step.outputs:
        output = step_built.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
        ctx.outputs[(step.name, name)] = output
    for name, property_file in zip(step.property_files, property_files, strict=True):
        ctx.property_files[(step.name, name)] = (step.name, property_file)
    return step_built
