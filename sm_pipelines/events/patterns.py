"""EventBridge event-pattern matching and input-transformer rendering, as EventBridge does them,
so local runs route alerts exactly as AWS would and tests can check patterns offline."""

from __future__ import annotations

import json
import re
from typing import Any

_MISSING = object()


def _field_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "suffix" in rule:
            return isinstance(value, str) and value.endswith(rule["suffix"])
        if "exists" in rule:
            return (value is not _MISSING) == bool(rule["exists"])
        if "anything-but" in rule:
            excluded = rule["anything-but"]
            excluded = excluded if isinstance(excluded, list) else [excluded]
            return value is not _MISSING and value not in excluded
        raise ValueError(f"unsupported pattern operator {sorted(rule)}")
    return value is not _MISSING and value == rule


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when `event` matches `pattern` (values: lists of alternatives; nested objects)."""
    for key, rule in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(rule, dict):
            if not isinstance(value, dict) or not matches(rule, value):
                return False
            continue
        candidates = value if isinstance(value, list) else [value]
        if not any(_field_matches(r, c) for r in rule for c in candidates):
            return False
    return True


def _json_path(event: dict[str, Any], path: str) -> Any:
    node: Any = event
    for part in path.removeprefix("$.").split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def render(input_paths: dict[str, str], template: str, event: dict[str, Any]) -> str:
    """What an InputTransformer delivers: <name> placeholders filled from the event. A quoted
    template is a JSON string, so values are escaped into it and the string is unquoted."""
    values = {name: _json_path(event, path) for name, path in input_paths.items()}

    def text(name: str) -> str:
        value = values.get(name)
        return "" if value is None else value if isinstance(value, str) else json.dumps(value)

    filled = re.sub(r"<([A-Za-z0-9_.-]+)>", lambda m: json.dumps(text(m.group(1)))[1:-1], template)
    if template.startswith('"') and template.endswith('"'):
        return json.loads(filled)
    return filled


def pipeline_parameters(parameters: dict[str, str], event: dict[str, Any]) -> dict[str, str]:
    """What a SageMaker pipeline target starts with: a value that is a JSON path (`$.detail.x`,
    EventBridge's dynamic path parameters) takes the event's field; others stay as they are."""
    resolved = {}
    for name, value in parameters.items():
        if value.startswith("$."):
            found = _json_path(event, value)
            value = "" if found is None else found if isinstance(found, str) else json.dumps(found)
        resolved[name] = value
    return resolved
