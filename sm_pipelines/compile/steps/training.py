"""Training steps: the script-mode convention (sagemaker_program, sagemaker_submit_directory)
with the code bundle's tarball, channels at /opt/ml/input/data/<name>, the model from
/opt/ml/model, checkpoints (and spot capacity) when the environment asks for them."""

from __future__ import annotations

from typing import Any

from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.workflow.steps import TrainingStep

from sm_pipelines.compile.bundle import CODE_PACKAGE
from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.compile.steps.jobs import cache_config, job_environment, retry_policies
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import PipelineConfig, TrainingStepSpec

TRAINING_CODE_DIR = "/opt/ml/code"


def build(
    step: TrainingStepSpec, pipeline: PipelineConfig, ctx: BuildContext, built: dict[str, Any]
) -> TrainingStep:
    env, code, session = ctx.env, ctx.code, ctx.session
    spot = env.use_spot_training
    estimator = Estimator(
        role=env.role_arn,
        image_uri=Names(env).image_uri(step.image),
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
    step_built = TrainingStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        step_args=estimator.fit(inputs=channels or None),
        cache_config=cache_config(step, pipeline),
        retry_policies=retry_policies(step.retry or pipeline.defaults.retry),
        depends_on=list(step.depends_on) or None,
    )
    ctx.outputs[(step.name, "model")] = step_built.properties.ModelArtifacts.S3ModelArtifacts
    return step_built
