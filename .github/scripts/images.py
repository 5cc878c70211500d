"""Which container images CD must build: an image is rebuilt only when its inputs changed.

An image's inputs are its Dockerfile and what the Dockerfile COPYs from the build context (as
committed: `git ls-files -s` gives each file's mode and blob id), plus the build arguments CD
passes (the environment's REGION and DLC_ACCOUNT). Their SHA-256 is the image's *inputs tag*
(`inputs-<24 hex>`). CD pushes each build under that tag and the commit's SHA; when the inputs
tag is already in ECR nothing is built, and the existing image gets the commit's tag by copying
its manifest (no layers move). So the pipelines are always upserted with `IMAGE_TAG=<commit SHA>`,
every image has that tag, and a push that changes only documentation rebuilds nothing.

Usage (GitHub step outputs, `name=value` lines):
  python .github/scripts/images.py plan ENV >> "$GITHUB_OUTPUT"
      <image>_inputs_tag and <image>_build (true|false) for each containers/<image>/Dockerfile
  python .github/scripts/images.py tag-commit ENV SHA
      gives every image's inputs-tagged manifest the tag SHA as well (idempotent)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TAG_PREFIX = "inputs-"
# Every manifest kind a buildx push can leave in ECR (an OCI index when attestations are on).
MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]


def images(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.name for p in (root / "containers").glob("*/Dockerfile"))


def copied_paths(dockerfile: str) -> list[str]:
    """Context paths the Dockerfile COPYs or ADDs (not from another stage), as written."""
    text = re.sub(r"\\\n", " ", dockerfile)
    found: list[str] = []
    for line in text.splitlines():
        if not re.match(r"\s*(COPY|ADD)\s", line, re.IGNORECASE):
            continue
        words = shlex.split(line, comments=True)
        arguments = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]) or len(arguments) < 2:
            continue
        found += [source.rstrip("/") or "." for source in arguments[:-1]]
    return found


def inputs(image: str, root: Path = ROOT) -> list[str]:
    """`mode blob path` of the Dockerfile and every committed file it copies, by path."""
    dockerfile = f"containers/{image}/Dockerfile"
    paths = [dockerfile, *copied_paths((root / dockerfile).read_text(encoding="utf-8"))]
    listed = subprocess.run(
        ["git", "ls-files", "-s", "--", *paths],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries = []
    for line in listed.splitlines():
        meta, path = line.split("\t", 1)
        mode, blob, _stage = meta.split()
        entries.append(f"{mode} {blob} {path}")
    if not any(entry.endswith(f" {dockerfile}") for entry in entries):
        raise SystemExit(f"error: {dockerfile} is not committed; commit it before CD builds it")
    return sorted(entries, key=lambda entry: entry.split(" ", 2)[2])


def inputs_tag(image: str, build_args: Mapping[str, str], root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for entry in inputs(image, root):
        digest.update(entry.encode() + b"\n")
    for key in sorted(build_args):
        digest.update(f"--build-arg {key}={build_args[key]}\n".encode())
    return TAG_PREFIX + digest.hexdigest()[:24]


def _has_tag(ecr: Any, repository: str, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return True


def plan(
    ecr: Any, repositories: Mapping[str, str], build_args: Mapping[str, str], root: Path = ROOT
) -> dict[str, str]:
    found: dict[str, str] = {}
    for image in images(root):
        tag = inputs_tag(image, build_args, root)
        found[f"{image}_inputs_tag"] = tag
        found[f"{image}_build"] = "false" if _has_tag(ecr, repositories[image], tag) else "true"
    return found


def tag_commit(
    ecr: Any,
    repositories: Mapping[str, str],
    build_args: Mapping[str, str],
    commit: str,
    root: Path = ROOT,
) -> list[str]:
    """Give each image of these inputs the commit's tag too; one line per image."""
    lines = []
    for image in images(root):
        repository, tag = repositories[image], inputs_tag(image, build_args, root)
        if _has_tag(ecr, repository, commit):
            lines.append(f"{image}: {repository}:{commit} exists")
            continue
        got = ecr.batch_get_image(
            repositoryName=repository,
            imageIds=[{"imageTag": tag}],
            acceptedMediaTypes=MEDIA_TYPES,
        )
        if not got.get("images"):
            raise SystemExit(f"error: {repository}:{tag} is not in ECR; build it first")
        found = got["images"][0]
        options = {}
        if found.get("imageManifestMediaType"):
            options["imageManifestMediaType"] = found["imageManifestMediaType"]
        ecr.put_image(
            repositoryName=repository,
            imageManifest=found["imageManifest"],
            imageTag=commit,
            **options,
        )
        lines.append(f"{image}: {repository}:{commit} = {tag} (unchanged, not rebuilt)")
    return lines


def build_arguments(target: Mapping[str, str]) -> dict[str, str]:
    """The --build-arg values CD gives every image (cd.yml passes the same two)."""
    return {"REGION": target["region"], "DLC_ACCOUNT": target["dlc_account"]}


def _target(env_name: str) -> dict[str, str]:
    script = Path(__file__).parent / "deploy_target.py"
    spec = importlib.util.spec_from_file_location("deploy_target", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.outputs(env_name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="images.py")
    parser.add_argument("command", choices=["plan", "tag-commit"])
    parser.add_argument("env")
    parser.add_argument("commit", nargs="?")
    args = parser.parse_args(argv)
    target = _target(args.env)
    build_args = build_arguments(target)
    repositories = {name: target[f"{name}_repository"] for name in images()}
    import boto3

    ecr = boto3.client("ecr", region_name=target["region"])
    if args.command == "plan":
        for key, value in plan(ecr, repositories, build_args).items():
            print(f"{key}={value}")
        return 0
    if not args.commit or not re.fullmatch(r"[0-9a-f]{40}", args.commit):
        parser.error("tag-commit needs the commit's 40-hex SHA")
    for line in tag_commit(ecr, repositories, build_args, args.commit):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
