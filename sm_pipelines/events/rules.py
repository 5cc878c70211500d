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
from sm_pipelines.config.naming import Names
from sm_pipelines.config.triggers import (
    EventTrigger,
    ModelPackageTrigger,
    NewDataTrigger,
    ScheduleTrigger,
)
from sm_pipelines.events.shapes import (
    EXECUTION_STATUS_CHANGE,
    MODEL_PACKAGE_STATE_CHANGE,
    STEP_STATUS_CHANGE,
)

_PIPELINES_PAGE = "sagemaker/home?region=<region>#/pipelines"
_REGISTRY_PAGE = "sagemaker/home?region=<region>#/model-registry"


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


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def trigger_rules(definitions: Definitions, env: EnvironmentConfig) -> list[Rule]:
    names = Names(env)
    rules = []
    for pipeline in definitions.pipelines.values():
        for trigger in pipeline.triggers:
            parameters = {name: _text(value) for name, value in trigger.parameters.items()}
            if isinstance(trigger, ModelPackageTrigger):
                # Dynamic path parameters: EventBridge puts the event's field in their place.
                parameters.update(trigger.event_parameters)
            target = Target(
                id="pipeline",
                arn=names.pipeline(pipeline.name),
                role_arn=names.events_role_arn(),
                pipeline_parameters=tuple(sorted(parameters.items())),
            )
            common = {
                "name": names.trigger_rule(pipeline.name, trigger.name),
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
            elif isinstance(trigger, ModelPackageTrigger):
                rules.append(Rule(pattern=model_package_pattern(env, trigger.statuses), **common))
    return rules


def model_package_pattern(env: EnvironmentConfig, statuses: list[str]) -> dict[str, Any]:
    """A version of the environment's own model package group reaching one of `statuses`."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
        "detail": {
            "ModelPackageGroupName": [env.model_package_group],
            "ModelApprovalStatus": list(statuses),
        },
    }


def _route_pattern(route: RouteSpec, definitions: Definitions, env: EnvironmentConfig) -> dict:
    if route.event == "custom":
        return {"source": [route.source], "detail-type": [route.detail_type]}
    if route.event == "model-package-state":
        return model_package_pattern(env, list(route.statuses))
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
            "pipelineArn": [Names(env).pipeline(name) for name in pipelines],
        },
    }


def messages(names: Names) -> dict[str, tuple[dict[str, str], str]]:
    """Input paths and template per event kind: each message names what happened, where, why
    (when known) and where to look, with a console link in the environment's partition."""
    pipelines_page = names.console(_PIPELINES_PAGE)
    return {
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
            " Reason: <reason>. Open: " + pipelines_page + '"',
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
            " <execution>. Open: " + pipelines_page + '"',
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
            " registry: " + names.console(_REGISTRY_PAGE) + '"',
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
    names = Names(env)
    templates = messages(names)
    rules = []
    for route in alerts.routes:
        if route.event == "custom":
            paths, template = custom_message(route.message or "")
        else:
            paths, template = templates[route.event]
        target = Target(
            id="topic",
            arn=names.topic_arn(route.topic),
            input_paths=tuple(sorted(paths.items())),
            input_template=template,
        )
        rules.append(
            Rule(
                name=names.alert_rule(route.name),
                description=route.description,
                enabled=route.enabled,
                targets=(target,),
                pattern=_route_pattern(route, definitions, env),
            )
        )
    return rules
