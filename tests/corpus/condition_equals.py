"""ConditionEquals on a ParameterString overridden on the command line (`--param Stage=prod`),
and on an untouched default. Checks: the matching step's branch ran, the other's else-branch ran,
and the execution records the overridden value."""

from __future__ import annotations

from typing import Any

from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import Run, mark_step, pipeline

PARAMS = ("--param", "Stage=prod")


def build(session: Any) -> Pipeline:
    stage = ParameterString(name="Stage", default_value="dev")
    region = ParameterString(name="Region", default_value="eu-west-1")
    is_prod = ConditionStep(
        name="IsProd",
        conditions=[ConditionEquals(left=stage, right="prod")],
        if_steps=[mark_step(session, "Deploy")],
        else_steps=[mark_step(session, "SkipDeploy")],
    )
    in_us = ConditionStep(
        name="InUS",
        conditions=[ConditionEquals(left=region, right="us-east-1")],
        if_steps=[mark_step(session, "UseUS")],
        else_steps=[mark_step(session, "UseEU")],
    )
    return pipeline(session, [is_prod, in_us], parameters=[stage, region])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()
    assert run.execution.parameters == {"Stage": "prod", "Region": "eu-west-1"}
    assert run.step("IsProd").properties == {"Outcome": True}
    assert run.step("InUS").properties == {"Outcome": False}
    assert run.ran("Deploy") and run.ran("UseEU")
    assert run.statuses()["SkipDeploy"] == run.statuses()["UseUS"] == "NotExecuted"
