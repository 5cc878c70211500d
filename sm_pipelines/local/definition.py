"""Read a compiled definition into what the executor schedules: steps, edges, branches, params."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_pipelines.errors import DefinitionError, UserError

SUPPORTED_STEP_TYPES = (
    "Processing",
    "Training",
    "RegisterModel",
    "Model",
    "Condition",
    "Fail",
    "Lambda",
)
_STEP_REFERENCE = re.compile(r"^Steps\.([^.\[]+)")


@dataclass
class StepNode:
    name: str
    type: str
    raw: dict[str, Any]
    depends_on: set[str] = field(default_factory=set)
    # (condition step, branch) that must be chosen for this step to run.
    gate: tuple[str, bool] | None = None


@dataclass
class PipelineDefinition:
    text: str
    document: dict[str, Any]
    steps: dict[str, StepNode]
    parameters: dict[str, dict[str, Any]]

    def typed_parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        """Defaults overlaid with `overrides` (text from the command line), typed per definition."""
        values: dict[str, Any] = {}
        for name in overrides:
            if name not in self.parameters:
                known = ", ".join(self.parameters) or "none"
                raise UserError(f"--param {name}: no such parameter (have: {known})")
        for name, spec in self.parameters.items():
            if name in overrides:
                values[name] = _parse_parameter(name, spec, overrides[name])
            elif "DefaultValue" in spec:
                values[name] = spec["DefaultValue"]
            else:
                raise UserError(f"parameter {name} has no default; pass --param {name}=VALUE")
        return values


def _parse_parameter(name: str, spec: dict[str, Any], text: str) -> Any:
    kind = spec.get("Type", "String")
    try:
        if kind == "Integer":
            value: Any = int(text)
        elif kind == "Float":
            value = float(text)
        elif kind == "Boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError
            value = text.lower() == "true"
        else:
            value = text
    except ValueError:
        raise UserError(f"--param {name}={text}: expected {kind.lower()}") from None
    enum = spec.get("EnumValues")
    if enum and value not in enum:
        raise UserError(f"--param {name}={text}: expected one of {', '.join(enum)}")
    return value


def references(node: Any) -> set[str]:
    """Steps whose properties or property files `node` reads."""
    found: set[str] = set()
    if isinstance(node, dict):
        get = node.get("Get")
        if isinstance(get, str) and (match := _STEP_REFERENCE.match(get)):
            found.add(match.group(1))
        json_get = node.get("Std:JsonGet")
        if isinstance(json_get, dict) and isinstance(json_get.get("StepName"), str):
            found.add(json_get["StepName"])
        for value in node.values():
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def _flatten(steps: list[Any], gate: tuple[str, bool] | None, out: dict[str, StepNode]) -> None:
    for raw in steps:
        if not isinstance(raw, dict) or not isinstance(raw.get("Name"), str):
            raise UserError("definition: every step needs a Name")
        name, kind = raw["Name"], raw.get("Type", "?")
        if name in out:
            raise UserError(f"definition: step name {name!r} is used twice")
        node = StepNode(name=name, type=kind, raw=raw, gate=gate)
        node.depends_on = set(raw.get("DependsOn") or [])
        arguments = raw.get("Arguments", {})
        if kind == "Condition":
            node.depends_on |= references(arguments.get("Conditions", []))
            out[name] = node
            _flatten(arguments.get("IfSteps", []), (name, True), out)
            _flatten(arguments.get("ElseSteps", []), (name, False), out)
            continue
        node.depends_on |= references(arguments)
        out[name] = node


def load_definition(text: str, source: str) -> PipelineDefinition:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(source, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise DefinitionError(source, "not a pipeline definition (no Steps list)")
    steps: dict[str, StepNode] = {}
    _flatten(document["Steps"], None, steps)
    for node in steps.values():
        if node.gate is not None:
            node.depends_on.add(node.gate[0])
        missing = node.depends_on - set(steps)
        if missing:
            raise DefinitionError(
                source, f"step {node.name!r} refers to unknown step(s) {sorted(missing)}"
            )
    unsupported = sorted({n.type for n in steps.values()} - set(SUPPORTED_STEP_TYPES))
    if unsupported:
        raise DefinitionError(
            source,
            f"step type(s) {', '.join(unsupported)} cannot run locally "
            f"(supported: {', '.join(SUPPORTED_STEP_TYPES)})",
        )
    parameters = {
        p["Name"]: p for p in document.get("Parameters", []) if isinstance(p, dict) and "Name" in p
    }
    return PipelineDefinition(text=text, document=document, steps=steps, parameters=parameters)


def read_definition(path: Path) -> PipelineDefinition:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(
            path, "no compiled definition here; run `sm-pipelines build`"
        ) from None
    return load_definition(text, str(path))
