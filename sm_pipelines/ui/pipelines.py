"""The compiled pipelines of the view's environment: graph (Mermaid text, laid out by mermaid.js
in the browser), steps with display names and descriptions, parameters with defaults and
descriptions (the compiled JSON carries both), and from the YAML the pipeline's description,
its triggers and the alert routes that watch it."""

from __future__ import annotations

import re
from typing import Any

from sm_pipelines.definition import document
from sm_pipelines.definition.graph import mermaid, node_id
from sm_pipelines.errors import DefinitionError
from sm_pipelines.ui.source import NotFound, ViewSource

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,255}$")


def pipeline_names(source: ViewSource) -> list[str]:
    if not source.compiled_dir.is_dir():
        return []
    return sorted(path.stem for path in source.compiled_dir.glob("*.json"))


def steps_of(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step (condition branches included) as the view lists it, with its graph node id."""
    return [
        {
            "name": step["Name"],
            "node": node_id(step["Name"]),
            "type": step.get("Type", "?"),
            "display_name": step.get("DisplayName") or step["Name"],
            "description": step.get("Description") or "",
            "depends_on": step.get("DependsOn") or [],
        }
        for step in document.all_steps(definition)
    ]


def _parameters(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": p.get("Name"),
            "type": p.get("Type", "String"),
            "default": p.get("DefaultValue"),
            "description": p.get("Description") or "",
        }
        for p in definition.get("Parameters") or []
        if isinstance(p, dict)
    ]


def _definition(source: ViewSource, name: str) -> dict[str, Any]:
    path = document.compiled_path(source.definitions_dir, source.env, name)
    if not _NAME.match(name) or not path.is_file():
        known = ", ".join(pipeline_names(source)) or "none"
        raise NotFound(f"no compiled pipeline {name!r} for {source.env} (pipelines: {known})")
    try:
        return document.read(path).data
    except DefinitionError as exc:
        raise NotFound(str(exc)) from None


def _routes(source: ViewSource, name: str) -> list[dict[str, Any]]:
    if source.definitions is None:
        return []
    return [
        route.model_dump(mode="json", exclude_none=True)
        for route in source.definitions.alerts.routes
        if route.pipelines is None or name in route.pipelines
    ]


def pipeline_summary(source: ViewSource, name: str) -> dict[str, Any]:
    definition = _definition(source, name)
    config = source.definitions.pipelines.get(name) if source.definitions else None
    return {
        "name": name,
        "display_name": config.display_name if config else name,
        "description": config.description if config else "",
        "steps": len(document.all_steps(definition)),
        "parameters": len(definition.get("Parameters") or []),
        "triggers": len(config.triggers) if config else 0,
    }


def pipeline_detail(source: ViewSource, name: str) -> dict[str, Any]:
    definition = _definition(source, name)
    config = source.definitions.pipelines.get(name) if source.definitions else None
    return {
        **pipeline_summary(source, name),
        "env": source.env,
        "graph": mermaid(definition),
        "step_list": steps_of(definition),
        "parameter_list": _parameters(definition),
        "trigger_list": [t.model_dump(mode="json", exclude_none=True) for t in config.triggers]
        if config
        else [],
        "alert_routes": _routes(source, name),
        "definitions_problem": source.definitions_problem,
    }
