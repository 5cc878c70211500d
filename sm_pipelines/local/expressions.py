"""Evaluate pipeline-definition expressions: Get, Std:Join, Std:JsonGet and conditions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
# In lists of named things SageMaker indexes by the item's name field, e.g. Outputs['train'].
_NAME_FIELDS = ("OutputName", "ChannelName", "InputName", "Name", "MetricName", "PropertyFileName")


class ExpressionError(Exception):
    """An expression that cannot be evaluated; the message names what and where."""


def parse_path(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot parse property path {path!r} at {path[position:]!r}")
        name, index, quoted, double_quoted = match.groups()
        if name is not None:
            tokens.append(name)
        elif index is not None:
            tokens.append(int(index))
        else:
            tokens.append(quoted if quoted is not None else double_quoted)
        position = match.end()
    return tokens


def walk(value: Any, tokens: list[str | int], where: str) -> Any:
    """Follow `tokens` into nested dicts and lists (named list items match their name field)."""
    for token in tokens:
        if isinstance(value, list) and isinstance(token, int):
            if token >= len(value):
                raise ExpressionError(f"{where}: index [{token}] is past the end")
            value = value[token]
        elif isinstance(value, list):
            found = [v for v in value if isinstance(v, dict) and token in _named(v)]
            if not found:
                raise ExpressionError(f"{where}: no item named {token!r}")
            # Name/Value pairs (Lambda OutputParameters) stand for their value, as in SageMaker.
            value = found[0]["Value"] if set(found[0]) == {"Name", "Value"} else found[0]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        else:
            raise ExpressionError(f"{where}: no {token!r}")
    return value


def _named(item: dict[str, Any]) -> set[Any]:
    return {item[key] for key in _NAME_FIELDS if key in item}


def to_text(value: Any) -> str:
    """How SageMaker renders a value inside Std:Join."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


@dataclass
class Scope:
    """What expressions can see during one execution."""

    parameters: dict[str, Any]
    execution: dict[str, Any]
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (step, property file name, step properties) -> local path of the file
    property_files: Callable[[str, str, dict[str, Any]], Path] | None = None
    # s3:// URI -> local path (JsonGet with S3Uri, as @step return values are read)
    s3_path: Callable[[str], Path] | None = None
    _loaded: dict[tuple[str, str], Any] = field(default_factory=dict)

    def get(self, target: str) -> Any:
        head, _, rest = target.partition(".")
        if head == "Parameters":
            if rest not in self.parameters:
                raise ExpressionError(f"Get {target!r}: no parameter {rest!r}")
            return self.parameters[rest]
        if head == "Execution":
            if rest not in self.execution:
                raise ExpressionError(f"Get {target!r}: no execution variable {rest!r}")
            return self.execution[rest]
        if head == "Steps":
            step, _, path = rest.partition(".")
            if step not in self.properties:
                raise ExpressionError(f"Get {target!r}: step {step!r} has not run")
            return walk(self.properties[step], parse_path(path), f"Get {target!r}")
        raise ExpressionError(f"Get {target!r}: unknown root {head!r}")

    def json_get(self, body: dict[str, Any]) -> Any:
        if not isinstance(body, dict):
            raise ExpressionError("Std:JsonGet must be an object")
        reference = body.get("PropertyFile")
        path = body.get("Path")
        if "S3Uri" in body:
            return self._json_get_s3(body["S3Uri"], path)
        if isinstance(reference, dict) and isinstance(reference.get("Get"), str):
            match = re.fullmatch(r"Steps\.([^.]+)\.PropertyFiles\.(.+)", reference["Get"])
            if not match:
                raise ExpressionError(f"Std:JsonGet: {reference['Get']!r} is not a property file")
            step, name = match.groups()
        elif isinstance(reference, str) and isinstance(body.get("StepName"), str):
            step, name = body["StepName"], reference
        else:
            raise ExpressionError("Std:JsonGet needs PropertyFile (and StepName) and Path")
        if not isinstance(path, str):
            raise ExpressionError(f"Std:JsonGet on {step}.{name}: Path must be a string")
        document = self._property_file(step, name)
        return walk(
            document, parse_path(path), f"property file {name!r} of step {step!r}, path {path!r}"
        )

    def _json_get_s3(self, uri_node: Any, path: Any) -> Any:
        uri = to_text(self.evaluate(uri_node))
        if not isinstance(path, str):
            raise ExpressionError(f"Std:JsonGet on {uri}: Path must be a string")
        if self.s3_path is None or not uri.startswith("s3://"):
            raise ExpressionError(f"Std:JsonGet: S3Uri {uri!r} is not an s3:// URI")
        local = self.s3_path(uri)
        if not local.is_file():
            raise ExpressionError(f"Std:JsonGet: {uri} does not exist (no step wrote it)")
        try:
            document = json.loads(local.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExpressionError(f"Std:JsonGet: {uri} is not valid JSON ({exc})") from None
        return walk(document, parse_path(path), f"{uri}, path {path!r}")

    def _property_file(self, step: str, name: str) -> Any:
        if (step, name) in self._loaded:
            return self._loaded[(step, name)]
        if self.property_files is None:
            raise ExpressionError(f"property file {name!r} of step {step!r} is not available")
        if step not in self.properties:
            raise ExpressionError(f"property file {name!r} of step {step!r}: the step has not run")
        local = self.property_files(step, name, self.properties[step])
        try:
            text = local.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ExpressionError(
                f"property file {name!r} of step {step!r}: {local} was not written by the step"
            ) from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpressionError(
                f"property file {name!r} of step {step!r}: {local} is not valid JSON "
                f"({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        self._loaded[(step, name)] = document
        return document

    def evaluate(self, node: Any) -> Any:
        """The value of `node` with every expression inside it evaluated."""
        if isinstance(node, dict):
            if set(node) == {"Get"} and isinstance(node["Get"], str):
                return self.get(node["Get"])
            if set(node) == {"Std:Join"}:
                body = node["Std:Join"]
                values = [to_text(self.evaluate(v)) for v in body.get("Values", [])]
                return str(body.get("On", "")).join(values)
            if set(node) == {"Std:JsonGet"}:
                return self.json_get(node["Std:JsonGet"])
            return {key: self.evaluate(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.evaluate(item) for item in node]
        return node


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a != b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers even when one side arrives as text (JSON, parameters)."""

    def number(value: Any) -> float | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None

    if number(left) is not None and number(right) is not None:
        return number(left), number(right)
    return left, right


def evaluate_condition(condition: dict[str, Any], scope: Scope) -> bool:
    if not isinstance(condition, dict):
        raise ExpressionError(f"a condition must be an object, got {type(condition).__name__}")
    kind = condition.get("Type")
    if kind in _COMPARE:
        left, right = _comparable(
            scope.evaluate(condition.get("LeftValue")), scope.evaluate(condition.get("RightValue"))
        )
        try:
            return _COMPARE[kind](left, right)
        except TypeError:
            raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}") from None
    if kind == "In":
        value = scope.evaluate(condition.get("QueryValue"))
        options = [scope.evaluate(v) for v in condition.get("Values", [])]
        return any(
            _comparable(value, option)[0] == _comparable(value, option)[1] for option in options
        )
    if kind == "Not":
        # The SDK's ConditionNot writes the negated condition under "Condition".
        inner = condition.get("Condition", condition.get("Expression"))
        if inner is None:
            raise ExpressionError("Not: no Condition to negate")
        return not evaluate_condition(inner, scope)
    if kind == "Or":
        return any(evaluate_condition(c, scope) for c in condition.get("Conditions", []))
    raise ExpressionError(f"unknown condition type {kind!r}")
