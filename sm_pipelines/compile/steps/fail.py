"""Fail steps: stop the execution with a message that says why."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.fail_step import FailStep

from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.config.pipeline import FailStepSpec, PipelineConfig


def build(
    step: FailStepSpec, pipeline: PipelineConfig, ctx: BuildContext, built: dict[str, Any]
) -> FailStep:
    return FailStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        error_message=ctx.resolve(step.error_message),
        depends_on=list(step.depends_on) or None,
    )
