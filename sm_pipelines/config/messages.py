"""Pydantic's validation errors as the one-line messages `validate` prints: each located in the
YAML by file, line and field path, saying what was expected in words rather than a regex."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from sm_pipelines.config import alerts as alert_models
from sm_pipelines.config import environment as environment_models
from sm_pipelines.config import pipeline as pipeline_models
from sm_pipelines.config import triggers as trigger_models
from sm_pipelines.config.environment import PATTERN_HINTS
from sm_pipelines.config.step_kinds import YAML_KINDS
from sm_pipelines.errors import DefinitionError, UserError
from sm_pipelines.files import FieldPath, YamlDocument


class DefinitionErrors(UserError):
    """Several DefinitionErrors, printed one per line, sorted by file and line."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line or 0, e.field))
        super().__init__("\n".join(e.render() for e in self.errors))


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for module in (pipeline_models, trigger_models, alert_models, environment_models):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel):
                for name, info in obj.model_fields.items():
                    names.add(info.alias or name)
    return names


def _type_name(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
    }
    return names.get(type(value), "null" if value is None else f"a {type(value).__name__}")


def _describe(error: dict[str, Any], key: Any) -> str:
    kind, ctx, given = error["type"], error.get("ctx", {}), error.get("input")
    expected = {
        "string_type": "a string",
        "int_type": "an integer",
        "float_type": "a number",
        "bool_type": "true or false",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
        "list_type": "a list",
    }.get(kind)
    if expected:
        return f"expected {expected}, got {_type_name(given)}"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(key), sorted(_all_field_names()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {given!r}"
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(ctx.get("pattern"), f"a value matching {ctx.get('pattern')}")
        return f"expected {hint}, got {given!r}"
    if kind == "string_too_long":
        return f"is {len(given)} characters; the limit is {ctx.get('max_length')}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{given!r} is below the minimum {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{given!r} is above the maximum {ctx.get('le', ctx.get('lt'))}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"missing '{ctx.get('discriminator', 'kind').strip(chr(39))}' field"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


# Tags pydantic puts in an error location for a union member; they are not YAML keys.
_UNION_TAGS = {
    *YAML_KINDS,
    "schedule",
    "s3-object-created",
    "event",
    "comparison",
    "in",
    "not",
    "or",
    "[key]",
}


def _data_path(data: Any, loc: tuple[Any, ...], kind: str) -> FieldPath:
    """Map a pydantic location onto the YAML, dropping union tags that are not real keys."""
    path: list[str | int] = []
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif last and isinstance(node, dict) and part not in _UNION_TAGS:
            path.append(part)
    tag_error = kind in ("union_tag_invalid", "union_tag_not_found")
    if tag_error and isinstance(node, dict) and "kind" in node:
        path.append("kind")
    return tuple(path)


def validate_model(model: type[BaseModel], doc: YamlDocument) -> tuple[Any, list[DefinitionError]]:
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            path = _data_path(doc.data, tuple(error["loc"]), error["type"])
            key = error["loc"][-1] if error["loc"] else ""
            errors.append(doc.error(path, _describe(error, key)))
        return None, dedupe(errors)


def dedupe(errors: list[DefinitionError]) -> list[DefinitionError]:
    seen: dict[str, DefinitionError] = {}
    for error in errors:
        seen.setdefault(error.render(), error)
    return list(seen.values())
