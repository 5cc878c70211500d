"""What the steps that start a SageMaker job share: retry policies, caching and the variables a
job sees (secrets only as `<NAME>_SECRET` references, never values)."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.retry import (
    SageMakerJobExceptionTypeEnum,
    SageMakerJobStepRetryPolicy,
    StepExceptionTypeEnum,
    StepRetryPolicy,
)
from sagemaker.workflow.steps import CacheConfig

from components.common.contract import SECRET_SUFFIX
from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.config.pipeline import JobStep, PipelineConfig, RetrySpec

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
