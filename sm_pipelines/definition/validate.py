"""`sm-pipelines validate`: service limits, references and schema of compiled definitions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sm_pipelines import limits
from sm_pipelines.definition import document
from sm_pipelines.definition.document import all_steps, iter_gets
from sm_pipelines.definition.schema import schema_problems
from sm_pipelines.errors import DefinitionError

_GET_STEP = re.compile(r"^Steps\.([A-Za-z0-9\-_]+)\.")
_GET_PARAMETER = re.compile(r"^Parameters\.([A-Za-z0-9\-_]+)$")
# Execution variables that differ in every execution (PipelineName and PipelineArn do not).
PER_EXECUTION = frozenset(
    f"Execution.{name}"
    for name in ("PipelineExecutionId", "PipelineExecutionArn", "StartDateTime", "CurrentDateTime")
)


def definition_problems(text: str) -> list[str]:
    """One line per problem in a compiled definition's text."""
    try:
        definition = document.load(text, "").data
    except DefinitionError as exc:
        return [exc.message]
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


def validate_compiled(definitions_root: Path) -> dict[Path, list[str]]:
    """Problems for every compiled definition of every environment, keyed by file."""
    results: dict[Path, list[str]] = {}
    for path in document.compiled_files(definitions_root):
        try:
            results[path] = definition_problems(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            results[path] = [f"cannot read: {exc}"]
    return results
