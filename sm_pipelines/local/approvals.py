"""A person's approval decision on this machine, wired as in AWS: the local registry records
who decided what, when and why; the `SageMaker Model Package State Change` event goes to
<state>/events.jsonl and through the alert routes; and the pipelines whose triggers match the
event (llm-twin-deploy's model-approved and model-rejected rules) start locally with the
parameters EventBridge would give them (dynamic path parameters read from the event)."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.events.patterns import matches, pipeline_parameters
from sm_pipelines.events.rules import Rule, trigger_rules
from sm_pipelines.events.shapes import model_package_event
from sm_pipelines.local import registry
from sm_pipelines.local.launch import (
    _close_sinks,
    _environment,
    local_settings,
    resolve_target,
    run,
    stage_code,
)


@dataclass(frozen=True)
class Start:
    rule: str
    pipeline: str
    parameters: dict[str, str]


def triggered(
    definitions: Definitions, env: EnvironmentConfig, event: dict[str, Any]
) -> list[Start]:
    """The pipeline starts EventBridge would make for `event`: enabled trigger rules whose
    pattern matches, each with its target's parameters resolved against the event."""
    starts = []
    rule: Rule
    for rule in trigger_rules(definitions, env):
        if not rule.enabled or rule.pattern is None or not matches(rule.pattern, event):
            continue
        for target in rule.targets:
            pipeline = target.arn.rsplit("/", 1)[-1]
            parameters = pipeline_parameters(dict(target.pipeline_parameters or ()), event)
            starts.append(Start(rule.name, pipeline, parameters))
    return starts


def who() -> str:
    """The person deciding: $SM_PIPELINES_USER, else the login name."""
    try:
        return os.environ.get("SM_PIPELINES_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def decide(
    definitions_dir: Path,
    state_dir: str | None,
    group: str,
    version: int,
    status: str,
    reason: str | None,
    by: str | None = None,
    quiet: bool = False,
    max_parallel: int = 2,
) -> int:
    """Record the decision, emit its event, start what the rules start; 0 when every started
    execution succeeded (or none was started)."""
    state, settings = local_settings(definitions_dir, state_dir, max_parallel)
    record = registry.decide(state, group, version, status, by or who(), reason)
    event = model_package_event(record, settings.region, settings.account)
    state.append_event(event)
    try:
        for sink in settings.event_sinks:  # the alert routes
            sink(event)
    finally:
        _close_sinks(settings)
    print(f"{group} version {version}: {status} by {record['LastModifiedBy']['UserProfileName']}")
    definitions, env, _ = _environment(definitions_dir, "local")
    starts = triggered(definitions, env, event) if definitions and env else []
    if not starts:
        print("no trigger rule starts a pipeline on this event")
        return 0
    failed = 0
    for start in starts:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(start.parameters.items()))
        print(f"rule {start.rule}: starting {start.pipeline} ({shown})", flush=True)
        target = resolve_target(
            definitions_dir, start.pipeline, None, "local", state_dir, max_parallel
        )
        stage_code(target, definitions_dir.resolve().parent)
        execution = run(target, start.parameters, quiet, f"rule {start.rule}")
        print(f"{start.pipeline}: {execution.id} {execution.status}", file=sys.stdout)
        failed += execution.status != "Succeeded"
    return 1 if failed else 0
