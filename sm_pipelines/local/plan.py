"""What the executor schedules from a compiled definition: steps with their dependencies (data
edges, DependsOn, the condition whose branch they are in) and typed parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_pipelines.definition import document
from sm_pipelines.definition.document import step_references
from sm_pipelines.errors import DefinitionError, UserError


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


def _nodes(doc: document.Document) -> dict[str, StepNode]:
    nodes: dict[str, StepNode] = {}
    for raw, gate in doc.gated_steps():
        name, kind = raw.get("Name"), raw.get("Type", "?")
        if not isinstance(name, str):
            raise DefinitionError(doc.source, "every step needs a Name")
        if name in nodes:
            raise DefinitionError(doc.source, f"step name {name!r} is used twice")
        node = StepNode(name=name, type=kind, raw=raw, gate=gate)
        depends_on = raw.get("DependsOn") or []
        arguments = raw.get("Arguments", {})
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise DefinitionError(doc.source, f"step {name!r}: DependsOn must be a list of names")
        if not isinstance(arguments, dict):
            raise DefinitionError(
                doc.source, f"step {name!r}: Arguments must be an object, not {_kind(arguments)}"
            )
        conditions = arguments.get("Conditions", [])
        if kind == "Condition" and not (
            isinstance(conditions, list) and all(isinstance(c, dict) for c in conditions)
        ):
            raise DefinitionError(
                doc.source, f"step {name!r}: Arguments.Conditions must be a list of objects"
            )
        node.depends_on = set(depends_on)
        if kind == "Condition":
            node.depends_on |= step_references(arguments.get("Conditions", []))
        else:
            node.depends_on |= step_references(arguments)
        if gate is not None:
            node.depends_on.add(gate[0])
        nodes[name] = node
    return nodes


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def load_definition(text: str, source: str) -> PipelineDefinition:
    return _plan(document.load(text, source))


def read_definition(path: Path) -> PipelineDefinition:
    return _plan(document.read(path, "run `sm-pipelines build`"))


def _plan(doc: document.Document) -> PipelineDefinition:
    steps = _nodes(doc)
    for node in steps.values():
        missing = node.depends_on - set(steps)
        if missing:
            raise DefinitionError(
                doc.source, f"step {node.name!r} refers to unknown step(s) {sorted(missing)}"
            )
    return PipelineDefinition(
        text=doc.text, document=doc.data, steps=steps, parameters=doc.parameters()
    )
