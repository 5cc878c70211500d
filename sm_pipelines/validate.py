"""`sm-pipelines validate`: service limits, references and schema of compiled definitions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sm_pipelines import limits
from sm_pipelines.schema_check import schema_problems

_GET_STEP = re.compile(r"^Steps\.([A-Za-z0-9\-_]+)\.")
_GET_PARAMETER = re.compile(r"^Parameters\.([A-Za-z0-9\-_]+)$")
# Execution variables that differ in every execution (PipelineName and PipelineArn do not).
PER_EXECUTION = frozenset(
    f"Execution.{name}"
    for name in ("PipelineExecutionId", "PipelineExecutionArn", "StartDateTime", "CurrentDateTime")
)


def all_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step, condition branches included, in document order."""
    found: list[dict[str, Any]] = []

    def visit(steps: list[Any]) -> None:
        for step in steps:
            if not isinstance(step, dict):
                continue
            found.append(step)
            arguments = step.get("Arguments")
            if step.get("Type") == "Condition" and isinstance(arguments, dict):
                visit(arguments.get("IfSteps", []))
                visit(arguments.get("ElseSteps", []))

    visit(definition.get("Steps", []) if isinstance(definition.get("Steps"), list) else [])
    return found


def iter_gets(node: Any):
    """Every `Get` target string inside `node`."""
    if isinstance(node, dict):
        if isinstance(node.get("Get"), str):
            yield node["Get"]
        for value in node.values():
            yield from iter_gets(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_gets(item)


def definition_problems(text: str) -> list[str]:
    """One line per problem in a compiled definition's text."""
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    if not isinstance(definition, dict):
        return ["not a pipeline definition: the top level must be an object"]
    problems = []
    steps = all_steps(definition)
    names = [step.get("Name") for step in steps]
    parameters = {p.get("Name") for p in definition.get("Parameters", []) if isinstance(p, dict)}
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"Steps: step name {name!r} is used more than once")
    for step in steps:
        name = step.get("Name", "?")
        if isinstance(name, str) and len(name) > limits.STEP_NAME_MAX:
            problems.append(f"Steps.{name}: name is over {limits.STEP_NAME_MAX} characters")
        for policy in step.get("RetryPolicies", []) or []:
            attempts = policy.get("MaxAttempts", 0) if isinstance(policy, dict) else 0
            if attempts > limits.RETRY_MAX_ATTEMPTS:
                problems.append(
                    f"Steps.{name}: retry MaxAttempts {attempts} is over "
                    f"{limits.RETRY_MAX_ATTEMPTS}"
                )
        for target in iter_gets(step):
            step_ref = _GET_STEP.match(target)
            if step_ref and step_ref.group(1) not in names:
                problems.append(f"Steps.{name}: Get {target!r} names no step in this definition")
            param_ref = _GET_PARAMETER.match(target)
            if param_ref and param_ref.group(1) not in parameters:
                problems.append(f"Steps.{name}: Get {target!r} names no parameter")
        problems += _uncacheable(step)
    problems += schema_problems(definition)
    return problems


def _uncacheable(step: dict[str, Any]) -> list[str]:
    """A cached step whose arguments hold a per-execution value never matches an earlier run
    (SageMaker compares the arguments), so its CacheConfig silently does nothing."""
    if not (step.get("CacheConfig") or {}).get("Enabled"):
        return []
    found = sorted({t for t in iter_gets(step.get("Arguments", {})) if t in PER_EXECUTION})
    return [
        f"Steps.{step.get('Name', '?')}: CacheConfig is enabled but the arguments use {target}, "
        "so no run can ever be a cache hit (give its outputs a `key:` in the YAML)"
        for target in found
    ]


def validate_compiled(compiled_root: Path) -> dict[Path, list[str]]:
    """Problems for every compiled definition under `compiled_root`, keyed by file."""
    results: dict[Path, list[str]] = {}
    for path in sorted(compiled_root.glob("*/*.json")):
        results[path] = definition_problems(path.read_text(encoding="utf-8"))
    return results
