"""Executions of the state folder as the view shows them: the list, one execution with its own
definition's graph and each step's status, and a step's panel (evaluated arguments and outputs,
property files, attempts, cache hit and the execution it came from, failure reason, log tail).

A job step's properties are its evaluated request plus what the job returned (as SageMaker's
Describe* answers), so they are the "evaluated arguments and outputs" of the panel; a step that
failed before its job started has none, and the panel shows the definition's arguments."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from sm_pipelines.definition import document
from sm_pipelines.definition.graph import mermaid, node_id
from sm_pipelines.errors import DefinitionError, UserError
from sm_pipelines.files import read_json
from sm_pipelines.local.execution import Execution, list_executions, load_execution
from sm_pipelines.ui.pipelines import steps_of
from sm_pipelines.ui.source import NotFound, ViewSource, tail_text

LOG_LINES = 200
_STEP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$")


def execution_summary(execution: Execution) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for step in execution.steps.values():
        counts[step.status] = counts.get(step.status, 0) + 1
    return {
        "id": execution.id,
        "pipeline": execution.pipeline,
        "status": execution.status,
        "start": execution.start,
        "end": execution.end,
        "seconds": round(execution.seconds(), 3),
        "source": execution.source,
        "description": execution.description,
        "parameters": execution.parameters,
        "failure_reason": execution.failure_reason,
        "step_counts": counts,
    }


def executions(source: ViewSource, pipeline: str | None = None) -> list[dict[str, Any]]:
    return [
        execution_summary(e)
        for e in list_executions(source.state)
        if pipeline is None or e.pipeline == pipeline
    ]


def load(source: ViewSource, execution_id: str) -> Execution:
    try:
        return load_execution(source.state, execution_id)
    except UserError as exc:
        raise NotFound(str(exc)) from None


def _definition(execution: Execution) -> dict[str, Any]:
    try:
        definition = json.loads(execution.definition)
    except ValueError:
        return {"Steps": []}
    return definition if isinstance(definition, dict) else {"Steps": []}


def execution_detail(source: ViewSource, execution_id: str) -> dict[str, Any]:
    execution = load(source, execution_id)
    definition = _definition(execution)
    listed = {step["name"]: step for step in steps_of(definition)}
    steps = []
    for name, record in execution.steps.items():
        seconds = record.seconds()
        steps.append(
            {
                **listed.get(name, {"name": name, "node": node_id(name), "type": record.type}),
                "display_name": record.display_name or listed.get(name, {}).get("display_name"),
                "status": record.status,
                "start": record.start,
                "end": record.end,
                "seconds": round(seconds, 3) if seconds is not None else None,
                "attempts": record.attempts,
                "cache_source": record.cache_source,
                "failure_reason": record.failure_reason,
            }
        )
    return {**execution_summary(execution), "graph": mermaid(definition), "steps": steps}


def _property_files(
    source: ViewSource, raw: dict[str, Any], properties: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each property file the step declares, read from the output the job uploaded."""
    outputs = {
        o.get("OutputName"): o.get("S3Output", {}).get("S3Uri")
        for o in (properties.get("ProcessingOutputConfig") or {}).get("Outputs", [])
        if isinstance(o, dict)
    }
    found = []
    for spec in raw.get("PropertyFiles") or []:
        entry: dict[str, Any] = {"name": spec.get("PropertyFileName"), "path": spec.get("FilePath")}
        uri = outputs.get(spec.get("OutputName"))
        if not isinstance(uri, str):
            entry["problem"] = "the step uploaded no such output"
        else:
            entry["uri"] = uri.rstrip("/") + "/" + str(spec.get("FilePath"))
            try:
                entry["content"] = read_json(source.state.s3_path(entry["uri"]))
            except (UserError, ValueError, OSError) as exc:
                entry["problem"] = " ".join(str(exc).split())
        found.append(entry)
    return found


def _raw_step(execution: Execution, step: str) -> dict[str, Any]:
    steps = document.all_steps(_definition(execution))
    return next((s for s in steps if s.get("Name") == step), {})


def property_files(source: ViewSource, execution: Execution, step: str) -> list[dict[str, Any]]:
    """The step's property files with their content (or why it cannot be read)."""
    try:
        return _property_files(source, _raw_step(execution, step), execution.steps[step].properties)
    except DefinitionError as exc:
        return [{"problem": exc.message}]


def step_detail(source: ViewSource, execution_id: str, step: str) -> dict[str, Any]:
    execution = load(source, execution_id)
    if not _STEP.match(step) or step not in execution.steps:
        known = ", ".join(execution.steps)
        raise NotFound(f"execution {execution_id} has no step {step!r} (steps: {known})")
    record = execution.steps[step]
    raw = _raw_step(execution, step)
    log = source.state.execution_dir(execution_id) / "logs" / f"{step}.log"
    return {
        **asdict(record),
        "execution": execution_id,
        "pipeline": execution.pipeline,
        "execution_status": execution.status,
        "description": raw.get("Description") or "",
        "arguments": raw.get("Arguments") or {},
        "property_files": property_files(source, execution, step),
        "log_tail": tail_text(log, LOG_LINES),
        "log_file": str(log) if log.is_file() else None,
    }
