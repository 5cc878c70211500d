"""Condition steps: comparisons, `in`, `not` and `or` over parameters and step properties,
with the steps of each branch."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import (
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
)

from sm_pipelines.compile.expressions import BuildContext
from sm_pipelines.config.pipeline import (
    Comparison,
    ConditionStepSpec,
    InCondition,
    NotCondition,
    OrCondition,
    PipelineConfig,
)

_COMPARISONS = {
    "==": ConditionEquals,
    ">": ConditionGreaterThan,
    ">=": ConditionGreaterThanOrEqualTo,
    "<": ConditionLessThan,
    "<=": ConditionLessThanOrEqualTo,
}


def build_condition(spec: Any, ctx: BuildContext) -> Any:
    if isinstance(spec, Comparison):
        left, right = ctx.resolve(spec.left), ctx.resolve(spec.right)
        if spec.op == "!=":
            return ConditionNot(expression=ConditionEquals(left=left, right=right))
        return _COMPARISONS[spec.op](left=left, right=right)
    if isinstance(spec, InCondition):
        return ConditionIn(
            value=ctx.resolve(spec.value), in_values=[ctx.resolve(v) for v in spec.in_]
        )
    if isinstance(spec, NotCondition):
        return ConditionNot(expression=build_condition(spec.not_, ctx))
    if isinstance(spec, OrCondition):
        return ConditionOr(conditions=[build_condition(item, ctx) for item in spec.or_])
    raise TypeError(f"unknown condition {spec!r}")


def build(
    step: ConditionStepSpec, pipeline: PipelineConfig, ctx: BuildContext, built: dict[str, Any]
) -> ConditionStep:
    return ConditionStep(
        name=step.name,
        display_name=step.display_name,
        description=step.description,
        conditions=[build_condition(item, ctx) for item in step.conditions],
        if_steps=[built[name] for name in step.if_steps],
        else_steps=[built[name] for name in step.else_steps],
        depends_on=list(step.depends_on) or None,
    )
