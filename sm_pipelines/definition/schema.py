"""Check a definition against the public pipeline-definition schema, with its known gaps listed.

The reference schema (aws-sagemaker-mlops, 2025-04) predates fields that SDK 2.257 emits and the
service accepts. Rather than skip validation, each gap is named here with where it occurs; those
fields are removed from a copy of the definition and everything else is validated strictly.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match


@dataclass(frozen=True)
class KnownGap:
    """A field the schema rejects but the service accepts.

    `drop`: the field is removed before validation. `expression`: a pipeline expression there
    (Get, Std:Join, Std:JsonGet) is replaced by a string; a literal is still validated. `list`:
    a list where the schema has one value; each item is validated as that value.
    """

    path: tuple[str, ...]  # "*" matches any list index or key
    field: str
    why: str
    action: str = "drop"


TOP_LEVEL_GAPS: tuple[KnownGap, ...] = (
    KnownGap((), "PipelineExperimentConfig", "emitted by the SDK for every pipeline"),
    KnownGap(("Parameters", "*"), "EnumValues", "string parameters with allowed values"),
)
# Paths below are relative to one step (condition branches included).
STEP_GAPS: tuple[KnownGap, ...] = (
    KnownGap((), "PropertyFiles", "processing steps that publish a property file"),
    KnownGap(("Arguments", "ProcessingInputs", "*"), "AppManaged", "processing input"),
    KnownGap(
        ("Arguments", "ProcessingOutputConfig", "Outputs", "*"), "AppManaged", "processing output"
    ),
    KnownGap(("Arguments",), "ProfilerConfig", "training with the profiler off"),
    KnownGap(("Arguments",), "Environment", "container environment of a job"),
    KnownGap(
        ("Arguments", "InferenceSpecification", "Containers", "*"),
        "Environment",
        "model container environment",
    ),
    KnownGap(("Arguments",), "ModelApprovalStatus", "registration status"),
    KnownGap(("Arguments",), "SkipModelValidation", "model registration"),
    KnownGap(
        ("Arguments",),
        "CustomerMetadataProperties",
        "model registration metadata (RegisterModel's customer_metadata_properties)",
    ),
    KnownGap(("RetryPolicies", "*"), "ExceptionType", "the SDK emits a list of types", "list"),
    KnownGap(
        ("Arguments", "ProcessingOutputConfig", "Outputs", "*", "S3Output"),
        "S3Uri",
        "output destinations built with Std:Join",
        "expression",
    ),
    KnownGap(("Arguments", "HyperParameters"), "*", "parameters in hyperparameters", "expression"),
    KnownGap(("Arguments", "ModelMetrics", "*", "*"), "S3Uri", "report locations", "expression"),
    KnownGap(("Arguments",), "ErrorMessage", "fail messages built with Std:Join", "expression"),
)
# The schema's argument values allow only literals, Get and Std:Join; the service also takes
# Std:JsonGet (a property-file read), so each one is checked for shape and then stands in as Get.
JSON_GET = "Std:JsonGet"

# Step "Type" -> its definition in the schema; steps are checked one by one so an error is
# reported against the step's own type instead of the closest of sixteen oneOf branches.
STEP_DEFINITIONS = {
    "Processing": "ProcessingStep",
    "Training": "TrainingStep",
    "Transform": "TransformStep",
    "Model": "CreateModelStep",
    "RegisterModel": "RegisterModelStep",
    "Condition": "ConditionStep",
    "Lambda": "LambdaStep",
    "Callback": "CallbackStep",
    "Tuning": "TuningStep",
    "ClarifyCheck": "ClarifyCheckStep",
    "QualityCheck": "QualityCheckStep",
    "EMR": "EMRStep",
    "Fail": "FailStep",
    "AutoML": "AutoMLStep",
    "Endpoint": "EndpointStep",
    "EndpointConfig": "EndpointConfigStep",
}


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("sm_pipelines.definition").joinpath("pipeline-definition.schema.json")
    schema = json.loads(text.read_text(encoding="utf-8"))
    # The file names no draft; it is written for Draft 7.
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema


def _validator(definition: str | None) -> jsonschema.Draft7Validator:
    schema = _schema()
    if definition is None:
        root = {**schema, "properties": {**schema["properties"], "Steps": {"type": "array"}}}
        return jsonschema.Draft7Validator(root)
    return jsonschema.Draft7Validator(
        {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    )


_EXPRESSION_KEYS = {"Get", "Std:Join", "Std:JsonGet"}


def _apply_gap(node: Any, gap: KnownGap) -> None:
    for parent in _walk(node, gap.path):
        if not isinstance(parent, dict):
            continue
        for key in list(parent) if gap.field == "*" else [gap.field]:
            if key not in parent:
                continue
            value = parent[key]
            if gap.action == "drop":
                del parent[key]
            elif gap.action == "list" and isinstance(value, list) and value:
                # Items after the first are checked through copies in _list_variants.
                parent[key] = value[0]
            elif (
                gap.action == "expression"
                and isinstance(value, dict)
                and _EXPRESSION_KEYS & set(value)
            ):
                parent[key] = "expression"


def _walk(node: Any, path: tuple[str, ...]) -> list[Any]:
    if not path:
        return [node]
    head, rest = path[0], path[1:]
    if head == "*":
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        )
        return [found for child in children for found in _walk(child, rest)]
    if isinstance(node, dict) and head in node:
        return _walk(node[head], rest)
    return []


def _replace_json_gets(node: Any, where: str, problems: list[str]) -> Any:
    if isinstance(node, dict):
        if JSON_GET in node:
            body = node[JSON_GET]
            ok = (
                isinstance(body, dict)
                and isinstance(body.get("Path"), str)
                and isinstance(body.get("PropertyFile"), dict | str)
            )
            if not ok:
                problems.append(f"{where}: Std:JsonGet needs PropertyFile and Path")
            return {"Get": "Std:JsonGet"}
        return {
            key: _replace_json_gets(value, f"{where}/{key}", problems)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_replace_json_gets(item, f"{where}/{i}", problems) for i, item in enumerate(node)]
    return node


def _flatten_steps(steps: list[Any], where: str) -> list[tuple[str, Any]]:
    """Every step with its JSON path, condition branches included (branches emptied)."""
    flat = []
    for index, step in enumerate(steps):
        path = f"{where}/{index}"
        if isinstance(step, dict) and step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            step = copy.deepcopy(step)
            for branch in ("IfSteps", "ElseSteps"):
                inner = arguments.get(branch, []) if isinstance(arguments, dict) else []
                flat.extend(_flatten_steps(inner, f"{path}/Arguments/{branch}"))
                if isinstance(step.get("Arguments"), dict) and branch in step["Arguments"]:
                    step["Arguments"][branch] = []
        flat.append((path, step))
    return flat


def _errors(validator: jsonschema.Draft7Validator, document: Any, where: str) -> list[str]:
    problems = []
    for error in validator.iter_errors(document):
        deepest = best_match([error])
        while deepest.context:
            deepest = best_match(deepest.context)
        location = "/".join([where, *(str(p) for p in deepest.absolute_path)]).strip("/")
        problems.append(f"{location or '(root)'}: {deepest.message[:300]}")
    return problems


def schema_problems(definition: dict[str, Any]) -> list[str]:
    """One line per schema violation outside the known gaps, each naming its JSON path."""
    problems: list[str] = []
    top = copy.deepcopy(definition)
    for gap in TOP_LEVEL_GAPS:
        _apply_gap(top, gap)
    problems += _errors(_validator(None), top, "")
    steps = definition.get("Steps")
    for where, step in _flatten_steps(steps if isinstance(steps, list) else [], "Steps"):
        kind = step.get("Type") if isinstance(step, dict) else None
        if kind not in STEP_DEFINITIONS:
            problems.append(f"{where}: unknown step Type {kind!r}")
            continue
        step = _replace_json_gets(copy.deepcopy(step), where, problems)
        for variant in _list_variants(step):
            for gap in STEP_GAPS:
                _apply_gap(variant, gap)
            problems += _errors(_validator(STEP_DEFINITIONS[kind]), variant, where)
    return list(dict.fromkeys(problems))


def _list_variants(step: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of `step` in which each "list" gap holds, in turn, each of its items first."""
    variants = [step]
    for gap in STEP_GAPS:
        if gap.action != "list":
            continue
        for index, parent in enumerate(_walk(step, gap.path)):
            items = parent.get(gap.field) if isinstance(parent, dict) else None
            if not isinstance(items, list):
                continue
            for item in items[1:]:
                variant = copy.deepcopy(step)
                _walk(variant, gap.path)[index][gap.field] = [item]
                variants.append(variant)
    return variants
