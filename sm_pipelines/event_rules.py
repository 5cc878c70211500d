"""The EventBridge rules an environment needs: one per trigger (target: the pipeline itself)
and one per alert route (target: its SNS topic, with a message a person can read)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sm_pipelines.config.alerts import AlertsConfig, RouteSpec
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.triggers import EventTrigger, NewDataTrigger, ScheduleTrigger
from sm_pipelines.local.events import (
    EXECUTION_STATUS_CHANGE,
    MODEL_PACKAGE_STATE_CHANGE,
    STEP_STATUS_CHANGE,
)

_CONSOLE = "https://<region>.console.aws.amazon.com/sagemaker/home?region=<region>#/pipelines"


@dataclass(frozen=True)
class Target:
    id: str
    arn: str
    role_arn: str | None = None
    pipeline_parameters: tuple[tuple[str, str], ...] | None = None
    input_paths: tuple[tuple[str, str], ...] | None = None
    input_template: str | None = None

    def to_aws(self) -> dict[str, Any]:
        target: dict[str, Any] = {"Id": self.id, "Arn": self.arn}
        if self.role_arn:
            target["RoleArn"] = self.role_arn
        if self.pipeline_parameters is not None:
            target["SageMakerPipelineParameters"] = {
                "PipelineParameterList": [
                    {"Name": name, "Value": value} for name, value in self.pipeline_parameters
                ]
            }
        if self.input_template is not None:
            target["InputTransformer"] = {
                "InputPathsMap": dict(self.input_paths or ()),
                "InputTemplate": self.input_template,
            }
        return target


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    enabled: bool
    targets: tuple[Target, ...]
    schedule: str | None = None
    pattern: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def pattern_json(self) -> str | None:
        return None if self.pattern is None else json.dumps(self.pattern, sort_keys=True)


def events_role_name(env: EnvironmentConfig) -> str:
    from sm_pipelines.iam import role_names

    return role_names(env)["eventbridge"]


def events_role_arn(env: EnvironmentConfig) -> str:
    return f"arn:aws:iam::{env.account_id}:role/{events_role_name(env)}"


def topic_name(env: EnvironmentConfig, topic: str) -> str:
    return f"{env.prefix}-{topic}-{env.name}"


def topic_arn(env: EnvironmentConfig, topic: str) -> str:
    return f"arn:aws:sns:{env.region}:{env.account_id}:{topic_name(env, topic)}"


def trigger_rule_name(pipeline: str, trigger: str, env: EnvironmentConfig) -> str:
    return f"{pipeline}-{trigger}-{env.name}"


def alert_rule_name(route: str, env: EnvironmentConfig) -> str:
    return f"{env.prefix}-alert-{route}-{env.name}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def trigger_rules(definitions: Definitions, env: EnvironmentConfig) -> list[Rule]:
    rules = []
    for pipeline in definitions.pipelines.values():
        for trigger in pipeline.triggers:
            target = Target(
                id="pipeline",
                arn=env.pipeline_arn(pipeline.name),
                role_arn=events_role_arn(env),
                pipeline_parameters=tuple(
                    (name, _text(value)) for name, value in sorted(trigger.parameters.items())
                ),
            )
            common = {
                "name": trigger_rule_name(pipeline.name, trigger.name, env),
                "description": trigger.description,
                "enabled": trigger.enabled,
                "targets": (target,),
            }
            if isinstance(trigger, ScheduleTrigger):
                rules.append(Rule(schedule=trigger.expression, **common))
            elif isinstance(trigger, NewDataTrigger):
                key: dict[str, Any] = {"prefix": trigger.prefix}
                detail = {"bucket": {"name": [env.bucket]}, "object": {"key": [key]}}
                pattern = {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": detail,
                }
                if trigger.suffix:
                    detail["object"] = {"key": [key, {"suffix": trigger.suffix}]}
                rules.append(Rule(pattern=pattern, **common))
            elif isinstance(trigger, EventTrigger):
                pattern = {"source": [trigger.source], "detail-type": [trigger.detail_type]}
                if trigger.detail:
                    pattern["detail"] = trigger.detail
                rules.append(Rule(pattern=pattern, **common))
    return rules


def _route_pattern(route: RouteSpec, definitions: Definitions, env: EnvironmentConfig) -> dict:
    if route.event == "custom":
        return {"source": [route.source], "detail-type": [route.detail_type]}
    if route.event == "model-package-state":
        return {
            "source": ["aws.sagemaker"],
            "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
            "detail": {
                "ModelPackageGroupName": [env.model_package_group],
                "ModelApprovalStatus": list(route.statuses),
            },
        }
    pipelines = route.pipelines or sorted(definitions.pipelines)
    status_key = (
        "currentPipelineExecutionStatus"
        if route.event == "execution-status"
        else "currentStepStatus"
    )
    detail_type = (
        EXECUTION_STATUS_CHANGE if route.event == "execution-status" else STEP_STATUS_CHANGE
    )
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [detail_type],
        "detail": {
            status_key: list(route.statuses),
            "pipelineArn": [env.pipeline_arn(name) for name in pipelines],
        },
    }


# Each message names what happened, where, why (when known) and where to look.
MESSAGES: dict[str, tuple[dict[str, str], str]] = {
    "execution-status": (
        {
            "pipeline": "$.detail.pipelineArn",
            "execution": "$.detail.pipelineExecutionArn",
            "status": "$.detail.currentPipelineExecutionStatus",
            "reason": "$.detail.failureReason",
            "time": "$.time",
            "region": "$.region",
        },
        '"Pipeline execution <status> at <time>. Pipeline: <pipeline>. Execution: <execution>.'
        " Reason: <reason>. Open: " + _CONSOLE + '"',
    ),
    "step-status": (
        {
            "pipeline": "$.detail.pipelineArn",
            "execution": "$.detail.pipelineExecutionArn",
            "step": "$.detail.stepName",
            "status": "$.detail.currentStepStatus",
            "reason": "$.detail.failureReason",
            "time": "$.time",
            "region": "$.region",
        },
        '"Step <step> <status> at <time>: <reason>. Pipeline: <pipeline>. Execution:'
        " <execution>. Open: " + _CONSOLE + '"',
    ),
    "model-package-state": (
        {
            "group": "$.detail.ModelPackageGroupName",
            "version": "$.detail.ModelPackageVersion",
            "status": "$.detail.ModelApprovalStatus",
            "package": "$.detail.ModelPackageArn",
            "region": "$.region",
        },
        '"Model <group> version <version> is <status>: <package>. Review it in the model'
        " registry: https://<region>.console.aws.amazon.com/sagemaker/home?region=<region>"
        '#/model-registry"',
    ),
}


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


def custom_message(template: str) -> tuple[dict[str, str], str]:
    """A custom route's message as input paths and an InputTemplate: <name> reads
    $.detail.name. Dots become underscores in the path names, which EventBridge requires to be
    letters, digits, _ and -."""
    names = sorted(set(_PLACEHOLDER.findall(template)))
    paths = {name.replace(".", "_"): f"$.detail.{name}" for name in names}
    text = _PLACEHOLDER.sub(lambda m: "<" + m.group(1).replace(".", "_") + ">", template)
    return paths, json.dumps(" ".join(text.split()))


def alert_rules(
    definitions: Definitions, alerts: AlertsConfig, env: EnvironmentConfig
) -> list[Rule]:
    rules = []
    for route in alerts.routes:
        if route.event == "custom":
            paths, template = custom_message(route.message or "")
        else:
            paths, template = MESSAGES[route.event]
        target = Target(
            id="topic",
            arn=topic_arn(env, route.topic),
            input_paths=tuple(sorted(paths.items())),
            input_template=template,
        )
        rules.append(
            Rule(
                name=alert_rule_name(route.name, env),
                description=route.description,
                enabled=route.enabled,
                targets=(target,),
                pattern=_route_pattern(route, definitions, env),
            )
        )
    return rules
