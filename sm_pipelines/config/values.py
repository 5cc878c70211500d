"""Typed references that YAML values may hold instead of literals.

A value in a pipeline definition is a literal (string, number, boolean) or one of:
  {param: Name}                                    a pipeline parameter
  {step: name, output: out}                        an output of another step (an S3 URI or ARN)
  {step: name, property_file: f, json_path: a.b}   a value read from a step's property file
  {execution: PipelineExecutionId}                 an execution variable
  {env: endpoint_name}                             a field of the target environment
  {join: [v1, v2, ...], separator: "/"}            values joined into one string
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

EXECUTION_VARIABLES = (
    "CurrentDateTime",
    "StartDateTime",
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "TrainingJobName",
    "ProcessingJobName",
)


@dataclass(frozen=True)
class ParamRef:
    param: str


@dataclass(frozen=True)
class StepOutputRef:
    step: str
    output: str


@dataclass(frozen=True)
class PropertyFileRef:
    step: str
    property_file: str
    json_path: str


@dataclass(frozen=True)
class ExecutionRef:
    execution: str


ENVIRONMENT_FIELDS = ("model_package_group", "endpoint_name", "region", "bucket", "prefix")


@dataclass(frozen=True)
class EnvRef:
    env: str


@dataclass(frozen=True)
class JoinRef:
    values: tuple[Value, ...]
    separator: str = ""


Scalar = str | int | float | bool
Ref = ParamRef | StepOutputRef | PropertyFileRef | ExecutionRef | EnvRef | JoinRef
Value = Scalar | Ref

_SHAPES: dict[frozenset[str], str] = {
    frozenset({"param"}): "param",
    frozenset({"step", "output"}): "output",
    frozenset({"step", "property_file", "json_path"}): "property_file",
    frozenset({"execution"}): "execution",
    frozenset({"env"}): "env",
    frozenset({"join"}): "join",
    frozenset({"join", "separator"}): "join",
}
_EXPECTED = (
    "a literal or one of {param}, {step, output}, {step, property_file, json_path}, "
    "{execution}, {env}, {join[, separator]}"
)


def parse_value(raw: Any) -> Value:
    """Turn a YAML value into a literal or a typed reference; ValueError names what was wrong."""
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError(f"{raw} is not a finite number (SageMaker takes none)")
    if isinstance(raw, bool | int | float | str):
        return raw
    if not isinstance(raw, dict):
        raise ValueError(f"expected {_EXPECTED}; got {type(raw).__name__}")
    shape = _SHAPES.get(frozenset(raw))
    if shape is None:
        # YAML 1.1 reads a bare `on`/`yes` key as a boolean, so name keys by str().
        keys = ", ".join(sorted(str(key) for key in raw))
        raise ValueError(f"expected {_EXPECTED}; got keys {keys}")
    for key, item in raw.items():
        if key != "join" and not isinstance(item, str):
            raise ValueError(f"'{key}' must be a string, got {type(item).__name__}")
    if shape == "param":
        return ParamRef(raw["param"])
    if shape == "output":
        return StepOutputRef(raw["step"], raw["output"])
    if shape == "property_file":
        return PropertyFileRef(raw["step"], raw["property_file"], raw["json_path"])
    if shape == "execution":
        if raw["execution"] not in EXECUTION_VARIABLES:
            raise ValueError(
                f"unknown execution variable {raw['execution']!r}; expected one of "
                + ", ".join(EXECUTION_VARIABLES)
            )
        return ExecutionRef(raw["execution"])
    if shape == "env":
        if raw["env"] not in ENVIRONMENT_FIELDS:
            raise ValueError(
                f"unknown environment field {raw['env']!r}; expected one of "
                + ", ".join(ENVIRONMENT_FIELDS)
            )
        return EnvRef(raw["env"])
    items = raw["join"]
    if not isinstance(items, list) or not items:
        raise ValueError("'join' must be a non-empty list of values")
    return JoinRef(tuple(parse_value(item) for item in items), raw.get("separator", ""))


def iter_refs(value: Value):
    """Yield every reference inside `value`, descending into joins."""
    if isinstance(value, JoinRef):
        for item in value.values:
            yield from iter_refs(item)
    elif not isinstance(value, bool | int | float | str):
        yield value
