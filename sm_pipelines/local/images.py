"""What an image URI stands for when the executor runs a job of it on this machine.

SageMaker's own images are recognised in any region and account from their repository name,
read from the SDK's `sagemaker/image_uri_config/*.json` (the tables `sagemaker.image_uris`
resolves from): `683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1` is the
`xgboost` image, `.../pytorch-training:2.1-cpu-py310` the `pytorch` one. Framework images run
scripts (script mode, through the sagemaker-training toolkit); built-in algorithm images run an
algorithm when the job names no `sagemaker_program`, and XGBoost is the one built-in algorithm
with a local stand-in (`runtimes/xgboost_algorithm.py`).

`local.images` in the environment maps URI globs to a stand-in (`python:` the interpreter for
the image's Python, `algorithm:` the built-in algorithm a private copy of an image runs);
`local.interpreters` is the older exact-URI form of `python:`. With `run --images` the
project's own images run in their image environments (`local/image_envs.py`: a virtual
environment built from exactly the image's requirements), ahead of both. Anything else runs with
the executor's own interpreter.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sm_pipelines.config.environment import LocalImage, LocalSettings

# Images that run the user's script (script mode); every other SageMaker image runs a built-in
# algorithm or a serving stack.
SCRIPT_FRAMEWORKS = frozenset(
    {"sklearn", "pytorch", "huggingface", "tensorflow", "mxnet", "chainer", "xgboost"}
)
# Built-in algorithms with a local stand-in.
LOCAL_ALGORITHMS = frozenset({"xgboost"})

_ECR_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)"
)


def _repositories_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "repository" and isinstance(value, str):
                yield value
            else:
                yield from _repositories_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _repositories_in(value)


@functools.cache
def sagemaker_repositories() -> dict[str, str]:
    """ECR repository name -> the SDK's name for the framework or algorithm it holds."""
    # Found without importing the SDK, which takes seconds.
    spec = importlib.util.find_spec("sagemaker")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        return {}
    config = Path(locations[0]) / "image_uri_config"
    found: dict[str, str] = {}
    for path in sorted(config.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        for repository in _repositories_in(document):
            # The framework's own table names its repositories first; a later file that
            # reuses one (a compiler or Neo variant) does not rename it.
            found.setdefault(repository, path.stem)
    return found


def sagemaker_image(image: str | None) -> str | None:
    """The SDK's name for a SageMaker image (`xgboost`, `sklearn`, `pytorch`, ...), else None."""
    match = _ECR_URI.match(image or "")
    if not match:
        return None
    return sagemaker_repositories().get(match["repository"])


@dataclass(frozen=True)
class ImageRuntime:
    """How a job of one image runs here."""

    image: str
    python: str
    # The SDK's name for a SageMaker image; None for the project's and other custom images.
    framework: str | None = None
    # The built-in algorithm the image runs when a job names no script; None: it runs scripts.
    algorithm: str | None = None
    # `python` is the image's own environment (run --images), holding exactly what the image
    # installs: a `python -m` job then imports its code from the bundle on PYTHONPATH, as in AWS.
    isolated: bool = False


@dataclass(frozen=True)
class ImageMap:
    """The image -> stand-in rules of one run."""

    rules: tuple[tuple[str, LocalImage], ...] = ()
    interpreters: Mapping[str, str] = field(default_factory=dict)
    default_python: str = sys.executable
    # image URI -> the python of its image environment (run --images); wins over the rules
    envs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, local: LocalSettings | None) -> ImageMap:
        if local is None:
            return cls()
        return cls(rules=tuple(local.images.items()), interpreters=dict(local.interpreters))

    def with_envs(self, envs: Mapping[str, str]) -> ImageMap:
        """These rules, with the images of `envs` (URI -> python) run in their environments."""
        return replace(self, envs={**self.envs, **envs})

    def runtime(self, image: str | None) -> ImageRuntime:
        uri = image or ""
        framework = sagemaker_image(uri)
        algorithm = None if framework in SCRIPT_FRAMEWORKS - LOCAL_ALGORITHMS else framework
        python = self.interpreters.get(uri)
        for pattern, mapped in self.rules:
            if fnmatch.fnmatchcase(uri, pattern):
                python = mapped.python or python
                algorithm = mapped.algorithm or algorithm
                break
        if uri in self.envs:
            return ImageRuntime(uri, self.envs[uri], framework, algorithm, isolated=True)
        return ImageRuntime(uri, python or self.default_python, framework, algorithm)

    def python(self, image: str | None) -> str:
        return self.runtime(image).python
