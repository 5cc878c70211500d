"""Artifacts behind s3:// URIs, wherever the job runs.

Under the local executor SM_PIPELINES_LOCAL_STATE is set and s3://<bucket>/<key> is the file
<state>/s3/<bucket>/<key>; without it the job is in AWS and reads S3 with boto3.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from components.common.contract import STATE_VARIABLE
from components.common.job import JobError


def local_state() -> Path | None:
    value = os.environ.get(STATE_VARIABLE)
    return Path(value) if value else None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://") or not uri[5:].split("/")[0]:
        raise JobError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def local_path(uri: str, state: Path) -> Path:
    bucket, key = parse_s3_uri(uri)
    root = (state / "s3").resolve()
    path = (root / bucket / key.strip("/")).resolve()
    if not path.is_relative_to(root):
        raise JobError(f"{uri} escapes the local S3 folder")
    return path


def fetch(uri: str, destination: Path) -> Path:
    """A local file holding the object at `uri` (downloaded into `destination` in AWS)."""
    state = local_state()
    if state is not None:
        path = local_path(uri, state)
        if not path.is_file():
            raise JobError(f"{uri} does not exist (looked in {path})")
        return path
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / (Path(key).name or "object")
    try:
        boto3.client("s3").download_file(bucket, key, str(target))
    except (BotoCoreError, ClientError) as exc:
        raise JobError(f"cannot download {uri}: {exc}") from None
    return target


def read_json(uri: str) -> Any:
    with tempfile.TemporaryDirectory() as scratch:
        path = fetch(uri, Path(scratch))
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JobError(f"{uri} is not JSON: {exc}") from None


def extract_tarball(archive: Path, destination: Path) -> Path:
    """Unpack `archive` into `destination`, all or nothing (a staging folder, then a rename)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}."))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    except (tarfile.TarError, OSError, EOFError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise JobError(f"{archive.name} is not a readable model archive ({detail})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def is_model_folder(folder: Path) -> bool:
    """A saved model (config.json) or LoRA adapter (adapter_config.json). Here, not in
    twin_model, so reading artifacts never imports torch (the Lambda runtime has none)."""
    return (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file()


def model_folder(source: Path, scratch: Path) -> Path:
    """The model folder behind a processing input: a model folder, or a model.tar.gz in it."""
    if source.is_file():
        return extract_tarball(source, scratch)
    if is_model_folder(source):
        return source
    archives = sorted(source.glob("*.tar.gz")) if source.is_dir() else []
    if len(archives) != 1:
        found = ", ".join(p.name for p in archives) or "nothing"
        raise JobError(f"expected one model.tar.gz or a model folder in {source}, found {found}")
    return extract_tarball(archives[0], scratch)
