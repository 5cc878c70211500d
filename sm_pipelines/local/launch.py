"""Start, retry and inspect local executions: settings from the `local` environment, the code
bundle staged into the local S3, parameters typed by the definition."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sm_pipelines.compile.bundle import CodeLocation, collect_bundle
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions, load_definitions
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import LambdaStepSpec
from sm_pipelines.definition.document import compiled_path
from sm_pipelines.errors import UserError
from sm_pipelines.local import image_envs
from sm_pipelines.local.alerts import AlertRouter
from sm_pipelines.local.execution import SUCCEEDED, Execution, list_executions, load_execution
from sm_pipelines.local.images import ImageMap
from sm_pipelines.local.plan import PipelineDefinition, load_definition, read_definition
from sm_pipelines.local.progress import Progress
from sm_pipelines.local.runner import Runner, RunSettings
from sm_pipelines.local.sandbox import namespace_prefix
from sm_pipelines.local.services import local_services
from sm_pipelines.local.state import LocalState

_CODE_URI = re.compile(r"s3://([^/\"]+)/([^\"]*?)/code/([0-9a-f]{64})/")


@dataclass
class LocalTarget:
    """What to run, where its state lives and how this machine stands in for AWS."""

    pipeline: str
    definition: PipelineDefinition
    state: LocalState
    settings: RunSettings
    env: EnvironmentConfig | None


def _settings(
    env: EnvironmentConfig | None, handlers: dict[str, str], max_parallel: int
) -> RunSettings:
    local = env.local if env else None
    return RunSettings(
        cwd=Path.cwd(),
        region=env.region if env else "us-east-1",
        account=env.account_id if env else "000000000000",
        images=ImageMap.from_settings(local),
        lambdas={**handlers, **(local.lambdas if local else {})},
        max_parallel=max_parallel,
        services=tuple(local.services) if local else (),
        namespace=namespace_prefix()[0],
    )


def _environment(
    definitions_dir: Path, env_name: str
) -> tuple[Definitions | None, EnvironmentConfig | None, dict[str, str]]:
    """The definitions, the environment, and the Lambda handlers its pipelines deploy (function
    name -> handler), so Lambda steps run locally without a second list to keep in sync."""
    if not (definitions_dir / "environments" / f"{env_name}.yaml").is_file():
        return None, None, {}
    definitions = load_definitions(definitions_dir)
    env = definitions.environment(env_name)
    handlers = {
        Names(env).lambda_function(step.function): step.handler
        for pipeline in definitions.pipelines.values()
        for step in pipeline.steps
        if isinstance(step, LambdaStepSpec)
    }
    return definitions, env, handlers


def _with_alerts(
    settings: RunSettings,
    definitions: Definitions | None,
    env: EnvironmentConfig | None,
    state: LocalState,
) -> RunSettings:
    """Route the run's events through the declared alert routes, as EventBridge would."""
    if definitions is not None and env is not None and definitions.alerts.routes:
        settings.event_sinks.append(AlertRouter(definitions, env, state))
    return settings


def _close_sinks(settings: RunSettings) -> None:
    for sink in settings.event_sinks:
        close = getattr(sink, "close", None)
        if callable(close):
            close()


def resolve_state(
    definitions_dir: Path, env: EnvironmentConfig | None, state_dir: str | None
) -> LocalState:
    """--state, else $SM_PIPELINES_STATE, else the local environment's state_dir."""
    default = env.local.state_dir if env and env.local else None
    return LocalState.at(state_dir or os.environ.get("SM_PIPELINES_STATE") or default)


def local_settings(definitions_dir: Path, state_dir: str | None, max_parallel: int = 2):
    definitions, env, handlers = _environment(definitions_dir, "local")
    state = resolve_state(definitions_dir, env, state_dir)
    settings = _with_alerts(_settings(env, handlers, max_parallel), definitions, env, state)
    return state, settings


def resolve_target(
    definitions_dir: Path,
    pipeline: str | None,
    definition_file: str | None,
    env_name: str,
    state_dir: str | None,
    max_parallel: int,
) -> LocalTarget:
    definitions, env, handlers = _environment(definitions_dir, env_name)
    if definition_file:
        path = Path(definition_file)
        definition = read_definition(path)
        metadata = definition.document.get("Metadata")
        declared = metadata.get("PipelineName") if isinstance(metadata, dict) else None
        # The PipelineName execution variable: what the user calls it, else what the
        # definition says, else the file's name.
        name = pipeline or (declared if isinstance(declared, str) and declared else path.stem)
    elif pipeline:
        definition = read_definition(compiled_path(definitions_dir, env_name, pipeline))
        name = pipeline
    else:
        raise UserError("name a pipeline, or pass --definition FILE.json")
    state = resolve_state(definitions_dir, env, state_dir)
    settings = _with_alerts(_settings(env, handlers, max_parallel), definitions, env, state)
    if definition_file:
        # The environment's stores serve its own pipelines, not any definition run through it.
        settings.services = ()
    return LocalTarget(name, definition, state, settings, env)


def stage_code(target: LocalTarget, project_root: Path) -> None:
    """Put components/ where the definition expects it in the local S3, refusing stale JSON."""
    references = set(_CODE_URI.findall(target.definition.text))
    if not references or not (project_root / "components").is_dir():
        return
    bundle = collect_bundle(project_root)
    for bucket, prefix, digest in sorted(references):
        if digest != bundle.digest:
            raise UserError(
                f"the compiled definition runs components/ at {digest[:12]} but components/ is now "
                f"{bundle.digest[:12]}; run `sm-pipelines build` (or `make build`)"
            )
        location = CodeLocation(bucket=bucket, prefix=prefix, digest=digest)
        if target.state.s3_path(location.tarball_uri).is_file():
            continue
        for path, data in bundle.files:
            target.state.put_bytes(location.source_prefix_uri + path, data)
        target.state.put_bytes(location.tarball_uri, bundle.tarball())


def use_image_envs(target: LocalTarget, project_root: Path, requested: bool) -> None:
    """`--images` (or the environment's `local.image_envs`): every job of a project image runs
    in that image's environment, built first if it is missing or its inputs changed."""
    local = target.env.local if target.env else None
    if not requested and not (local and local.image_envs):
        return
    if target.env is None:
        raise UserError("--images maps the environment's images to containers/*: no environment")
    envs = image_envs.for_definition(project_root, target.env, target.definition.text)
    target.settings.images = target.settings.images.with_envs(envs)


def parse_params(pairs: list[str], flag: str = "--param") -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"{flag} {pair!r}: expected Name=Value")
        values[name] = value
    return values


def _estimates(state: LocalState, pipeline: str) -> dict[str, float]:
    """How long each step took in the last successful run, for progress bars."""
    for execution in list_executions(state):
        if execution.pipeline == pipeline and execution.status == SUCCEEDED:
            return {
                name: seconds
                for name, step in execution.steps.items()
                if not step.cache_source and (seconds := step.seconds())
            }
    return {}


def _say_how_jobs_see_opt_ml(settings: RunSettings) -> None:
    if settings.namespace is None:
        print(
            f"note: jobs see /opt/ml through path rewriting ({namespace_prefix()[1]}): a path "
            "written in a job's own code is not rewritten; take paths from arguments or "
            "SM_ML_ROOT",
            file=sys.stderr,
        )


def reference_target(
    definitions_dir: Path, state_dir: str | None, max_parallel: int, reference_id: str
) -> tuple[LocalTarget, Execution]:
    """What a selective run without a named pipeline runs: the reference execution's own
    definition, pipeline and stores."""
    definitions, env, handlers = _environment(definitions_dir, "local")
    state = resolve_state(definitions_dir, env, state_dir)
    reference = load_execution(state, reference_id)
    definition = load_definition(reference.definition, f"execution {reference_id}")
    settings = _with_alerts(_settings(env, handlers, max_parallel), definitions, env, state)
    settings.services = tuple(reference.services)
    return LocalTarget(reference.pipeline, definition, state, settings, env), reference


def _as_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def run(
    target: LocalTarget,
    params: dict[str, str],
    quiet: bool,
    source: str,
    reference: Execution | None = None,
    selected: tuple[str, ...] = (),
    description: str = "",
) -> Execution:
    if reference is not None:
        # A selective run starts from the reference's parameters, as SageMaker's does.
        known = target.definition.parameters
        params = {
            **{k: _as_text(v) for k, v in reference.parameters.items() if k in known},
            **params,
        }
    parameters = target.definition.typed_parameters(params)
    _say_how_jobs_see_opt_ml(target.settings)
    progress = Progress(
        Progress.mode_for(sys.stdout, quiet), _estimates(target.state, target.pipeline)
    )
    runner = Runner(target.state, target.definition, target.pipeline, target.settings, progress)
    try:
        with local_services(target.state.root, target.settings.services) as services:
            target.settings.environment.update(services)
            execution = runner.start(parameters, source, reference, selected, description)
    finally:
        _close_sinks(target.settings)
    progress.finish(execution)
    return execution


def retry(state: LocalState, execution_id: str, settings: RunSettings, quiet: bool) -> Execution:
    execution = load_execution(state, execution_id)
    if execution.status == SUCCEEDED:
        raise UserError(f"execution {execution_id} succeeded; there is nothing to retry")
    definition = load_definition(execution.definition, f"execution {execution_id}")
    settings.region, settings.account = execution.region, execution.account
    settings.services = tuple(execution.services)
    progress = Progress(Progress.mode_for(sys.stdout, quiet))
    runner = Runner(state, definition, execution.pipeline, settings, progress)
    try:
        with local_services(state.root, settings.services) as services:
            settings.environment.update(services)
            execution = runner.retry(execution)
    finally:
        _close_sinks(settings)
    progress.finish(execution)
    return execution
