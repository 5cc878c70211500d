"""Load everything under definitions/ into validated models, or raise every mistake at once,
one line each (`messages`), after the cross-field and cross-file checks (`checks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sm_pipelines.config.alerts import AlertsConfig
from sm_pipelines.config.checks import (
    check_alerts,
    check_instances_fit_images,
    check_names_per_environment,
    check_parameter_defaults,
    check_partition,
    check_pipeline_references,
    check_steps_against_environments,
)
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.messages import DefinitionErrors, dedupe, validate_model
from sm_pipelines.config.pipeline import PipelineConfig
from sm_pipelines.config.secret_scan import scan
from sm_pipelines.errors import DefinitionError, UserError
from sm_pipelines.files import YamlDocument, load_yaml

__all__ = ["DefinitionErrors", "Definitions", "load_definitions"]


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

    def aws_environment(self, name: str, local_hint: str) -> EnvironmentConfig:
        """The environment, which must be an AWS one; a local one is one line ending in
        `local_hint` (what to do instead)."""
        env = self.environment(name)
        if env.kind != "aws":
            raise UserError(f"environment {name!r} is local: {local_hint}")
        return env

    def pipeline(self, name: str) -> PipelineConfig:
        if name not in self.pipelines:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise DefinitionError(
                self.root / "pipelines" / f"{name}.yaml",
                f"pipeline {name!r} does not exist; known pipelines: {known}",
            )
        return self.pipelines[name]


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
    errors.extend(scan(doc))
    config, problems = validate_model(AlertsConfig, doc)
    errors.extend(problems)
    return (config or AlertsConfig()), (doc if config else None)


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
        paths = sorted(p for p in (root / kind).glob("*") if p.suffix in (".yaml", ".yml"))
        stems = [p.stem for p in paths]
        for path in paths:
            rel = path.relative_to(root.parent)
            if stems.count(path.stem) > 1:
                if path.suffix == ".yml":
                    errors.append(
                        DefinitionError(
                            rel,
                            f"{path.stem}.yaml defines the same {kind[:-1]}; keep one of the two",
                        )
                    )
                broken.add(path.stem)
                continue
            try:
                doc = load_yaml(path)
            except DefinitionError as exc:
                errors.append(DefinitionError(rel, exc.message, exc.field, exc.line))
                broken.add(path.stem)
                continue
            doc.path = rel
            errors.extend(scan(doc))
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
    errors.extend(check_steps_against_environments(pipelines, environments))
    errors.extend(check_instances_fit_images(pipelines, environments))
    alerts, alerts_doc = _load_alerts(root, errors)
    if alerts_doc is not None:
        errors.extend(check_alerts(alerts, alerts_doc, pipelines, broken))
    errors.extend(check_names_per_environment(alerts, alerts_doc, pipelines, environments))
    definitions.alerts = alerts
    for env, doc in environments.values():
        errors.extend(check_partition(env, doc))
        errors.extend(check_parameter_defaults(env, doc, pipelines, broken))
    if errors:
        raise DefinitionErrors(dedupe(errors))
    definitions.pipelines = {name: cfg for name, (cfg, _) in pipelines.items()}
    definitions.environments = {name: cfg for name, (cfg, _) in environments.items()}
    return definitions
