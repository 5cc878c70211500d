"""The image-parity gate: every step of every AWS definition runs in an image that provides every
third-party module its component imports.

Locally all jobs share one `.venv` holding every extra; in AWS each job has only its image. For
each step the gate finds the image (its environment's `images`), what the image provides (the
extras its `containers/<image>/Dockerfile` installs, with their dependency closure as installed
here, plus what its Deep Learning Container base ships, declared once in
`containers/<image>/base-packages.txt`), and what the job needs: the import closure of its
component (`python3 -m components.<job>` or `sagemaker_program`; a Lambda step's handler runs in
the Lambda runtime, which provides boto3) through grimp, lazy imports included, since a branch
that imports opik only when OPIK_API_KEY is set still runs in AWS. A module no provided
distribution supplies is one line naming the step, the module and the image.

It also checks settings: every name a component reads through the settings path
(`components.common.settings.setting("NAME")`: `NAME` locally, `NAME_SECRET` in AWS), directly or
through an accessor of that module (`mongo_settings()` reads MONGODB_URI...), must reach the step
in AWS: as `NAME` (the environment's `variables` or the step's `environment`) or as `NAME_SECRET`
(the step's `secrets`, referenced in the environment's `secrets`). The names are found in the AST
of the import closure, like the modules; a name that is not a string literal cannot be checked and
fails the gate too (name settings literally). Optional reads count: an undeclared optional
setting silently does less in AWS. Lambda steps are not checked (their functions get no settings).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement

from sm_pipelines.config.loader import Definitions
from sm_pipelines.config.naming import Names
from sm_pipelines.config.pipeline import LambdaStepSpec
from sm_pipelines.definition import document
from sm_pipelines.errors import UserError

PROJECT_DISTRIBUTION = "sm-pipelines"
SETTINGS_MODULE = "components.common.settings"
SETTING_FUNCTION = "setting"
SECRET_SUFFIX = "_SECRET"  # components.common.contract.SECRET_SUFFIX
# What the Lambda runtime gives a handler.
LAMBDA_RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3"})
_EXTRAS = re.compile(r'pip install[^\n]*?"?\.\[([a-z,]+)\]"?')


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _module_distributions() -> dict[str, list[str]]:
    return {
        module: [normalize(d) for d in dists]
        for module, dists in metadata.packages_distributions().items()
    }


def _closure(names: set[str], extras: set[str] = frozenset()) -> set[str]:
    """Installed distributions `names` need, transitively (markers evaluated here)."""
    seen: set[str] = set()
    todo = [(normalize(n), frozenset(extras)) for n in names]
    while todo:
        name, wanted = todo.pop()
        key = name + "[" + ",".join(sorted(wanted)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({**default_environment(), "extra": extra})
                for extra in (wanted or {""})
            ):
                continue
            todo.append((normalize(requirement.name), frozenset(requirement.extras)))
    return {key.split("[", 1)[0] for key in seen}


def image_inputs(project_root: Path, image: str) -> tuple[set[str], list[str]]:
    """(the extras `containers/<image>/Dockerfile` installs, the requirements its base ships as
    `base-packages.txt` declares them): what an image holds, for the gate and for the local
    image environments (local/image_envs.py)."""
    dockerfile = project_root / "containers" / image / "Dockerfile"
    if not dockerfile.is_file():
        raise UserError(f"{dockerfile}: no Dockerfile for image {image!r}")
    extras = {e for group in _EXTRAS.findall(dockerfile.read_text()) for e in group.split(",")}
    base_file = dockerfile.parent / "base-packages.txt"
    base: list[str] = []
    if base_file.is_file():
        for line in base_file.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                Requirement(line)
            except InvalidRequirement as exc:
                raise UserError(f"{base_file}: {line!r} is not a requirement ({exc})") from None
            base.append(line)
    return extras, base


def provided_by(project_root: Path, image: str) -> set[str]:
    """The distributions an image provides: its extras' closure and its base's packages."""
    extras, base = image_inputs(project_root, image)
    project = _closure({PROJECT_DISTRIBUTION}, extras) - {normalize(PROJECT_DISTRIBUTION)}
    return project | _closure({normalize(Requirement(line).name) for line in base})


@cache
def _graph():  # type: ignore[no-untyped-def]
    try:
        import grimp
    except ImportError:
        raise UserError("the image-parity gate needs grimp (pip install -e '.[test]')") from None
    return grimp.build_graph("components", include_external_packages=True)


def third_party_modules(module: str) -> set[str]:
    """Top-level third-party modules `module` imports, transitively."""
    graph = _graph()
    if module not in graph.modules:
        raise UserError(f"{module}: no such module in components/")
    upstream = graph.find_upstream_modules(module) | {module}
    return {
        name.split(".")[0]
        for name in upstream
        if not name.startswith("components") and name.split(".")[0] not in sys.stdlib_module_names
    }


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def setting_reads(
    source: str, accessors: dict[str, set[str]] | None = None
) -> tuple[set[str], list[int]]:
    """(names read, lines of non-literal reads) in one module's source: `setting("NAME")` calls
    and calls of the settings module's accessors (`accessors`: function -> names it reads)."""
    accessors = _accessors() if accessors is None else accessors
    names: set[str] = set()
    unknown: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = _called_name(node)
        if called == SETTING_FUNCTION:
            first = node.args[0] if node.args else None
            if first is None:
                first = next((k.value for k in node.keywords if k.arg == "name"), None)
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            else:
                unknown.append(node.lineno)
        elif called in accessors:
            names |= accessors[called]
    return names, unknown


def _module_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise UserError(f"{module}: no source file")
    return Path(spec.origin)


@cache
def _accessors() -> dict[str, set[str]]:
    """Each function of the settings module (but `setting` itself) -> the names it reads."""
    tree = ast.parse(_module_file(SETTINGS_MODULE).read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != SETTING_FUNCTION:
            names, _ = setting_reads(ast.unparse(node), {})
            found[node.name] = names
    return found


@cache
def settings_read(module: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """(names `module` reads through the settings path, transitively; 'module:line' of each
    read whose name is not a literal)."""
    graph = _graph()
    if module not in graph.modules:
        raise UserError(f"{module}: no such module in components/")
    names: set[str] = set()
    unknown: list[str] = []
    for name in sorted(graph.find_upstream_modules(module) | {module}):
        if not name.startswith("components") or name == SETTINGS_MODULE:
            continue
        found, lines = setting_reads(_module_file(name).read_text(encoding="utf-8"))
        names |= found
        unknown += [f"{name}:{line}" for line in lines]
    return frozenset(names), tuple(unknown)


def _step_environment(step: dict) -> dict | None:
    arguments = step.get("Arguments") or {}
    env = arguments.get("Environment") if isinstance(arguments, dict) else None
    return env if isinstance(env, dict) else None


def _settings_problems(where: str, module: str, step: dict, env_name: str, pipeline: str) -> list:
    environment = _step_environment(step) or {}
    names, unknown = settings_read(module)
    problems = [
        f"{where}: {module} reads a setting whose name is not a string literal ({at}); name it "
        "literally so the gate can check it is declared"
        for at in unknown
    ]
    for name in sorted(names):
        if name in environment or name + SECRET_SUFFIX in environment:
            continue
        problems.append(
            f"{where}: {module} reads {name}, which the step does not get: add {name} to the "
            f"step's secrets in definitions/pipelines/{pipeline}.yaml (with a reference in "
            f"definitions/environments/{env_name}.yaml secrets), or set it in that environment's "
            "variables or the step's environment"
        )
    return problems


def _component(step: dict) -> str | None:
    arguments = step.get("Arguments") or {}
    if step.get("Type") == "Processing":
        entry = (arguments.get("AppSpecification") or {}).get("ContainerEntrypoint") or []
        if "-m" in entry and entry.index("-m") + 1 < len(entry):
            return entry[entry.index("-m") + 1] + ".__main__"
    if step.get("Type") == "Training":
        program = (arguments.get("HyperParameters") or {}).get("sagemaker_program", "")
        path = json.loads(program) if program.startswith('"') else program
        if path.endswith(".py"):
            return path.removesuffix(".py").replace("/", ".")
    return None


def _image_uri(step: dict) -> str | None:
    arguments = step.get("Arguments") or {}
    if step.get("Type") == "Processing":
        return (arguments.get("AppSpecification") or {}).get("ImageUri")
    if step.get("Type") == "Training":
        return (arguments.get("AlgorithmSpecification") or {}).get("TrainingImage")
    return None


def parity_problems(
    definitions: Definitions, provided: dict[str, set[str]] | None = None
) -> list[str]:
    """One line per module a step's component imports that its image does not provide, and per
    setting it reads that the step does not get. `provided` replaces what each image provides
    (by image key), for tests."""
    root = definitions.project_root
    modules = _module_distributions()
    problems: list[str] = []
    for env in (e for e in definitions.environments.values() if e.kind == "aws"):
        names = Names(env)
        images = {names.image_uri(key): key for key in env.images}
        handlers = {
            names.lambda_arn(step.function): step.handler.split(":")[0]
            for pipeline in definitions.pipelines.values()
            for step in pipeline.steps
            if isinstance(step, LambdaStepSpec)
        }
        for pipeline in sorted(definitions.pipelines):
            path = document.compiled_path(definitions.root, env.name, pipeline)
            for step in document.read(path).steps():
                where = f"{env.name}/{pipeline}: step {step.get('Name')}"
                if step.get("Type") == "Lambda":
                    module, image, gives = (
                        handlers.get(step.get("FunctionArn")),
                        "the Lambda runtime",
                        LAMBDA_RUNTIME,
                    )
                else:
                    module, uri = _component(step), _image_uri(step)
                    if module is None or uri is None:
                        continue
                    image = images.get(uri)
                    if image is None:
                        problems.append(f"{where}: image {uri} is none of {env.name}'s images")
                        continue
                    gives = (provided or {}).get(image) or provided_by(root, image)
                if module is None:
                    continue
                if step.get("Type") != "Lambda":
                    problems += _settings_problems(where, module, step, env.name, pipeline)
                for name in sorted(third_party_modules(module)):
                    dists = modules.get(name)
                    if not dists:
                        problems.append(
                            f"{where}: {module} imports {name}, which no installed "
                            "distribution provides"
                        )
                    elif not set(dists) & gives:
                        problems.append(
                            f"{where}: {module} imports {name} ({', '.join(dists)}), which image "
                            f"{image} does not provide"
                        )
    return problems
