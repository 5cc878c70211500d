"""Load and cross-check everything under definitions/, reporting each mistake as one line."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sm_pipelines import limits
from sm_pipelines.config import alerts as alert_models
from sm_pipelines.config import environment as environment_models
from sm_pipelines.config import pipeline as pipeline_models
from sm_pipelines.config import triggers as trigger_models
from sm_pipelines.config.alerts import AlertsConfig
from sm_pipelines.config.environment import PATTERN_HINTS, EnvironmentConfig
from sm_pipelines.config.pipeline import STEP_KINDS, PipelineConfig, type_problem
from sm_pipelines.config.references import check_pipeline_references
from sm_pipelines.config.yaml_source import FieldPath, YamlDocument, load_yaml
from sm_pipelines.errors import DefinitionError, UserError


class DefinitionErrors(UserError):
    """Several DefinitionErrors, printed one per line, sorted by file and line."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line or 0, e.field))
        super().__init__("\n".join(e.render() for e in self.errors))


@dataclass
class Definitions:
    """Everything under definitions/, validated, with the documents kept for error locations."""

    root: Path
    environments: dict[str, EnvironmentConfig] = field(default_factory=dict)
    pipelines: dict[str, PipelineConfig] = field(default_factory=dict)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    documents: dict[str, YamlDocument] = field(default_factory=dict)

    @property
    def project_root(self) -> Path:
        return self.root.parent

    def environment(self, name: str) -> EnvironmentConfig:
        if name not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none"
            raise DefinitionError(
                self.root / "environments" / f"{name}.yaml",
                f"environment {name!r} does not exist; known environments: {known}",
            )
        return self.environments[name]

    def pipeline(self, name: str) -> PipelineConfig:
        if name not in self.pipelines:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise DefinitionError(
                self.root / "pipelines" / f"{name}.yaml",
                f"pipeline {name!r} does not exist; known pipelines: {known}",
            )
        return self.pipelines[name]


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
    *STEP_KINDS,
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
        return None, _dedupe(errors)


def _dedupe(errors: list[DefinitionError]) -> list[DefinitionError]:
    seen: dict[str, DefinitionError] = {}
    for error in errors:
        seen.setdefault(error.render(), error)
    return list(seen.values())


def _missing_in(
    doc: YamlDocument, path: FieldPath, what: str, section: str, missing: dict[str, list[str]]
) -> DefinitionError:
    """One error for a key that some environments lack; `missing` maps file -> keys it has."""
    if len(missing) == 1:
        ((env_file, have),) = missing.items()
        return doc.error(
            path,
            f"{what} is not defined in {env_file} {section} (have: {', '.join(have) or 'none'})",
        )
    return doc.error(path, f"{what} is not defined in {section} of {', '.join(sorted(missing))}")


def _check_steps_against_environments(
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    environments: dict[str, tuple[EnvironmentConfig, YamlDocument]],
) -> list[DefinitionError]:
    """Images, instance types and secrets a step names must exist in every environment."""
    errors: list[DefinitionError] = []
    envs = [(env, doc.path.name) for env, doc in environments.values()]
    for pipeline, doc in pipelines.values():
        for index, step in enumerate(pipeline.steps):
            where: FieldPath = ("steps", index)
            image = getattr(step, "image", None)
            if image is not None:
                missing = {f: sorted(e.images) for e, f in envs if image not in e.images}
                if missing:
                    what = f"image {image!r}"
                    errors.append(_missing_in(doc, (*where, "image"), what, "images", missing))
            instance_keys: list[tuple[FieldPath, str | None]] = [
                (("instance_type",), getattr(step, "instance_type", None))
            ]
            for i, key in enumerate(getattr(step, "inference_instance_types", [])):
                instance_keys.append((("inference_instance_types", i), key))
            for field_path, key in instance_keys:
                if key is None or key.startswith("ml."):
                    continue
                missing = {
                    f: sorted(e.instance_types) for e, f in envs if key not in e.instance_types
                }
                if missing:
                    what = f"instance type {key!r} is not an ml.* type and"
                    errors.append(
                        _missing_in(doc, (*where, *field_path), what, "instance_types", missing)
                    )
            for i, secret in enumerate(getattr(step, "secrets", [])):
                missing = {
                    f: sorted(e.secrets)
                    for e, f in envs
                    if e.kind == "aws" and secret not in e.secrets
                }
                for env_file in sorted(missing):
                    errors.append(
                        doc.error(
                            (*where, "secrets", i),
                            f"secret {secret!r} has no reference in {env_file} secrets",
                        )
                    )
    return errors


def _check_parameter_defaults(
    env: EnvironmentConfig,
    env_doc: YamlDocument,
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    broken: set[str],
) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    for pipeline_name, overrides in env.parameter_defaults.items():
        if pipeline_name in broken:
            continue  # its own file already reported why it did not load
        if pipeline_name not in pipelines:
            errors.append(
                env_doc.error(
                    ("parameter_defaults", pipeline_name),
                    f"no pipeline named {pipeline_name!r} (have: {', '.join(sorted(pipelines))})",
                )
            )
            continue
        pipeline = pipelines[pipeline_name][0]
        for param, value in overrides.items():
            path = ("parameter_defaults", pipeline_name, param)
            spec = pipeline.parameters.get(param)
            if spec is None:
                have = ", ".join(sorted(pipeline.parameters)) or "none"
                errors.append(
                    env_doc.error(
                        path, f"{pipeline_name} has no parameter {param!r} (have: {have})"
                    )
                )
            elif problem := type_problem(spec.type, value):
                errors.append(env_doc.error(path, problem))
            elif spec.enum and value not in spec.enum:
                errors.append(env_doc.error(path, f"{value!r} is not one of {spec.enum}"))
    return errors


ALERTS_FILE = "alerts.yaml"


def _load_alerts(
    root: Path, errors: list[DefinitionError]
) -> tuple[AlertsConfig, YamlDocument | None]:
    path = root / ALERTS_FILE
    if not path.is_file():
        return AlertsConfig(), None
    rel = path.relative_to(root.parent)
    try:
        doc = load_yaml(path)
    except DefinitionError as exc:
        errors.append(DefinitionError(rel, exc.message, exc.field, exc.line))
        return AlertsConfig(), None
    doc.path = rel
    config, problems = validate_model(AlertsConfig, doc)
    errors.extend(problems)
    return (config or AlertsConfig()), (doc if config else None)


def _check_alerts(
    alerts: AlertsConfig,
    doc: YamlDocument,
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    broken: set[str],
) -> list[DefinitionError]:
    errors = []
    for index, route in enumerate(alerts.routes):
        if route.topic not in alerts.topics:
            have = ", ".join(alerts.topics) or "none"
            errors.append(
                doc.error(("routes", index, "topic"), f"no topic {route.topic!r} (have: {have})")
            )
        for i, name in enumerate(route.pipelines or []):
            if name not in pipelines and name not in broken:
                errors.append(
                    doc.error(("routes", index, "pipelines", i), f"no pipeline named {name!r}")
                )
        if [r.name for r in alerts.routes].count(route.name) > 1:
            errors.append(
                doc.error(("routes", index, "name"), f"route {route.name!r} is used twice")
            )
    return errors


def _check_names_per_environment(
    alerts: AlertsConfig,
    alerts_doc: YamlDocument | None,
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    environments: dict[str, tuple[EnvironmentConfig, YamlDocument]],
) -> list[DefinitionError]:
    """Names built from several files (rule, topic) must fit AWS limits in every environment."""
    from sm_pipelines.event_rules import alert_rule_name, topic_name, trigger_rule_name

    errors = []
    for env, env_doc in environments.values():
        for pipeline, doc in pipelines.values():
            for index, trigger in enumerate(pipeline.triggers):
                name = trigger_rule_name(pipeline.name, trigger.name, env)
                if len(name) > limits.EVENTBRIDGE_RULE_NAME_MAX:
                    errors.append(
                        doc.error(
                            ("triggers", index, "name"),
                            f"rule name {name!r} for {env_doc.path.name} is {len(name)} "
                            f"characters; EventBridge allows {limits.EVENTBRIDGE_RULE_NAME_MAX}",
                        )
                    )
        if alerts_doc is None:
            continue
        for index, route in enumerate(alerts.routes):
            name = alert_rule_name(route.name, env)
            if len(name) > limits.EVENTBRIDGE_RULE_NAME_MAX:
                errors.append(
                    alerts_doc.error(
                        ("routes", index, "name"),
                        f"rule name {name!r} for {env_doc.path.name} is {len(name)} characters; "
                        f"EventBridge allows {limits.EVENTBRIDGE_RULE_NAME_MAX}",
                    )
                )
        for topic in alerts.topics:
            name = topic_name(env, topic)
            if len(name) > limits.SNS_TOPIC_NAME_MAX:
                errors.append(
                    alerts_doc.error(
                        ("topics", topic),
                        f"topic name {name[:40]}... for {env_doc.path.name} is {len(name)} "
                        f"characters; SNS allows {limits.SNS_TOPIC_NAME_MAX}",
                    )
                )
        for topic in env.alerts.subscriptions:
            if topic not in alerts.topics:
                have = ", ".join(alerts.topics) or "none"
                errors.append(
                    env_doc.error(
                        ("alerts", "subscriptions", topic),
                        f"no topic {topic!r} in {ALERTS_FILE} (have: {have})",
                    )
                )
    return errors


def load_definitions(root: Path) -> Definitions:
    """Load definitions/ (environments/*.yaml, pipelines/*.yaml) or raise DefinitionErrors."""
    if not root.is_dir():
        raise DefinitionError(root, "definitions folder not found")
    errors: list[DefinitionError] = []
    definitions = Definitions(root=root)
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]] = {}
    environments: dict[str, tuple[EnvironmentConfig, YamlDocument]] = {}
    broken: set[str] = set()  # stems of files that failed, so others do not report them missing
    for kind, model, store in (
        ("pipelines", PipelineConfig, pipelines),
        ("environments", EnvironmentConfig, environments),
    ):
        for path in sorted((root / kind).glob("*.y*ml")):
            rel = path.relative_to(root.parent)
            try:
                doc = load_yaml(path)
            except DefinitionError as exc:
                errors.append(DefinitionError(rel, exc.message, exc.field, exc.line))
                broken.add(path.stem)
                continue
            doc.path = rel
            config, problems = validate_model(model, doc)
            errors.extend(problems)
            if config is None:
                broken.add(path.stem)
                continue
            if config.name != path.stem:
                errors.append(
                    doc.error(
                        ("name",),
                        f"is {config.name!r} but the file is {path.name}; "
                        f"name the file {config.name}.yaml",
                    )
                )
                continue
            store[config.name] = (config, doc)
            definitions.documents[f"{kind}/{config.name}"] = doc
    for pipeline, doc in pipelines.values():
        errors.extend(check_pipeline_references(pipeline, doc, root.parent))
    errors.extend(_check_steps_against_environments(pipelines, environments))
    alerts, alerts_doc = _load_alerts(root, errors)
    if alerts_doc is not None:
        errors.extend(_check_alerts(alerts, alerts_doc, pipelines, broken))
    errors.extend(_check_names_per_environment(alerts, alerts_doc, pipelines, environments))
    definitions.alerts = alerts
    for env, doc in environments.values():
        errors.extend(_check_parameter_defaults(env, doc, pipelines, broken))
    if errors:
        raise DefinitionErrors(_dedupe(errors))
    definitions.pipelines = {name: cfg for name, (cfg, _) in pipelines.items()}
    definitions.environments = {name: cfg for name, (cfg, _) in environments.items()}
    return definitions
