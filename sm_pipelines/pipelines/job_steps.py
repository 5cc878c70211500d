"""Processing and training steps: the job contract every component runs under.

Processing: code at /opt/ml/processing/input/code (PYTHONPATH), inputs at
/opt/ml/processing/input/<name>, outputs from /opt/ml/processing/output/<name>, entrypoint
`python3 -m components.<component>`. Training: the script-mode convention (sagemaker_program,
sagemaker_submit_directory) with the bundle's tarball, channels /opt/ml/input/data/<name>.
"""

from __future__ import annotations

from typing import Any

from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.workflow.functions import Join
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

from sm_pipelines.code_bundle import CODE_PACKAGE, CodeLocation
from sm_pipelines.config.pipeline import (
    JobStep,
    PipelineConfig,
    ProcessingStepSpec,
    RetrySpec,
    TrainingStepSpec,
)
from sm_pipelines.config.refs import ExecutionRef
from sm_pipelines.pipelines.expressions import BuildContext

PROCESSING_ROOT = "/opt/ml/processing"
PROCESSING_CODE_DIR = f"{PROCESSING_ROOT}/input/code"
TRAINING_CODE_DIR = "/opt/ml/code"
SECRET_SUFFIX = "_SECRET"

_JOB_FAULTS = {
    "capacity": SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
    "internal": SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
    "resource_limit": SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
}
_STEP_FAULTS = {
    "throttling": StepExceptionTypeEnum.THROTTLING,
    "service_fault": StepExceptionTypeEnum.SERVICE_FAULT,
}


def retry_policies(spec: RetrySpec | None, job_step: bool = True) -> list[Any] | None:
    """SageMaker retry policies for the fault kinds `spec` lists (job faults only on job steps)."""
    if spec is None:
        return None
    timing = {
        "interval_seconds": spec.interval_seconds,
        "backoff_rate": spec.backoff_rate,
        "max_attempts": spec.max_attempts,
    }
    policies: list[Any] = []
    job_faults = [_JOB_FAULTS[kind] for kind in spec.retry_on if kind in _JOB_FAULTS]
    step_faults = [_STEP_FAULTS[kind] for kind in spec.retry_on if kind in _STEP_FAULTS]
    if job_step and job_faults:
        policies.append(SageMakerJobStepRetryPolicy(exception_types=job_faults, **timing))
    if step_faults:
        policies.append(StepRetryPolicy(exception_types=step_faults, **timing))
    return policies or None


def cache_config(step: JobStep, pipeline: PipelineConfig) -> CacheConfig | None:
    if not step.cache:
        return None
    return CacheConfig(enable_caching=True, expire_after=pipeline.defaults.cache_expire_after)


def job_environment(step: JobStep, ctx: BuildContext, code_dir: str) -> dict[str, Any]:
    """Variables a job sees: environment variables, step settings, secret references, code path.

    Secrets are passed as references (`<NAME>_SECRET=secretsmanager:<id>`) that the component
    resolves at start; a value never enters a definition.
    """
    env: dict[str, Any] = dict(sorted(ctx.env.variables.items()))
    env.update({key: ctx.resolve_str(value) for key, value in step.environment.items()})
    if ctx.env.kind == "aws":
        for name in step.secrets:
            env[f"{name}{SECRET_SUFFIX}"] = ctx.env.secrets[name].reference
    env["PYTHONPATH"] = code_dir
    env["SM_PIPELINES_ENVIRONMENT"] = ctx.env.name
    return env


def build_processing_step(
    step: ProcessingStepSpec,
    pipeline: PipelineConfig,
    ctx: BuildContext,
    code: CodeLocation,
    session: Any,
) -> ProcessingStep:
    env = ctx.env
    processor = Processor(
        role=env.role_arn,
        image_uri=env.image_uri(step.image),
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
    built = ProcessingStep(
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
        output = built.properties.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri
        ctx.outputs[(step.name, name)] = output
    for name, property_file in zip(step.property_files, property_files, strict=True):
        ctx.property_files[(step.name, name)] = (step.name, property_file)
    return built


def build_training_step(
    step: TrainingStepSpec,
    pipeline: PipelineConfig,
    ctx: BuildContext,
    code: CodeLocation,
    session: Any,
) -> TrainingStep:
    env = ctx.env
    spot = env.use_spot_training
    estimator = Estimator(
        role=env.role_arn,
        image_uri=env.image_uri(step.image),
        instance_count=step.instance_count,
        instance_type=env.instance_type(step.instance_type),
        volume_size=step.volume_size_gb,
        max_run=step.max_runtime_seconds,
        use_spot_instances=spot,
        max_wait=step.max_wait_seconds if spot else None,
        checkpoint_s3_uri=(
            env.s3_uri(pipeline.name, step.name, "checkpoints") if step.checkpoints else None
        ),
        entry_point=f"{CODE_PACKAGE}/{step.component}/__main__.py",
        source_dir=code.tarball_uri,
        hyperparameters={key: ctx.resolve(value) for key, value in step.hyperparameters.items()},
        environment=job_environment(step, ctx, TRAINING_CODE_DIR),
        output_path=env.s3_uri(pipeline.name, step.name, "artifacts"),
        metric_definitions=[{"Name": m.name, "Regex": m.regex} for m in step.metric_definitions]
        or None,
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )
    channels = {
        name: TrainingInput(s3_data=ctx.resolve(value)) for name, value in step.inputs.items()
    }
    built = TrainingStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        step_args=estimator.fit(inputs=channels or None),
        cache_config=cache_config(step, pipeline),
        retry_policies=retry_policies(step.retry or pipeline.defaults.retry),
        depends_on=list(step.depends_on) or None,
    )
    ctx.outputs[(step.name, "model")] = built.properties.ModelArtifacts.S3ModelArtifacts
    return built
