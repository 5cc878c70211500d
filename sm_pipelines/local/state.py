"""The local backend: one state folder standing in for S3, the registry and execution history.

Layout under <state> (default .sm-local/):
  s3/<bucket>/<key>                       what s3://<bucket>/<key> holds
  executions/<id>/execution.json          an execution: definition, parameters, step records
  executions/<id>/logs/<step>.log         each step's stdout and stderr, all attempts
  executions/<id>/sandbox/<step>/         a failed step's job root, kept for inspection
  registry/<group>/<version>.json         model package versions (status, metrics, artifacts)
  cache/<pipeline>/<step>/<key>.json      step cache entries
  events.jsonl                            EventBridge-shaped status events, one per line
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sm_pipelines.errors import DefinitionError, UserError
from sm_pipelines.files import read_json

DEFAULT_STATE_DIR = ".sm-local"
STATE_ENV_VAR = "SM_PIPELINES_STATE"

_write_lock = threading.Lock()


def write_json_atomic(path: Path, payload: Any, sort_keys: bool = True) -> None:
    """Write JSON so a reader never sees half a file, even if this process dies mid-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=2, sort_keys=sort_keys, default=str)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException as exc:
            # A full disk must not leave half-written temporaries behind.
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError) and not exc.filename:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            raise


def quarantine(path: Path, reason: str) -> Path:
    """Move a damaged record aside (`<name>.damaged-<time>`), say so once on stderr, and return
    where it went: a damaged file must neither block later runs nor be silently lost."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    os.replace(path, target)
    print(f"WARNING {path}: {reason}; moved aside to {target.name}", file=sys.stderr)
    return target


def read_record(path: Path) -> Any | None:
    """A JSON record of the state folder, or None after quarantining a damaged one."""
    try:
        return read_json(path)
    except DefinitionError as exc:
        if not path.is_file():
            raise
        quarantine(path, exc.message)
        return None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, key


@dataclass(frozen=True)
class LocalState:
    root: Path

    @classmethod
    def at(cls, directory: str | Path | None) -> LocalState:
        chosen = directory or os.environ.get(STATE_ENV_VAR) or DEFAULT_STATE_DIR
        return cls(Path(chosen).resolve())

    @property
    def s3_root(self) -> Path:
        return self.root / "s3"

    @property
    def executions_dir(self) -> Path:
        return self.root / "executions"

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def events_file(self) -> Path:
        return self.root / "events.jsonl"

    def s3_path(self, uri: str) -> Path:
        """The local path behind an s3:// URI (trailing slashes ignored)."""
        bucket, key = parse_s3_uri(uri)
        path = (self.s3_root / bucket / key.strip("/")).resolve()
        if not path.is_relative_to(self.s3_root.resolve()):
            raise UserError(f"S3 URI {uri!r} escapes the local S3 folder")
        return path

    def s3_uri_of(self, path: Path) -> str:
        relative = path.resolve().relative_to(self.s3_root.resolve())
        bucket, *key = relative.parts
        return "s3://" + bucket + "/" + "/".join(key)

    def put_bytes(self, uri: str, data: bytes) -> None:
        path = self.s3_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def copy_prefix(self, uri: str, destination: Path) -> int:
        """Copy what an S3Prefix input holds into `destination`; returns the file count."""
        source = self.s3_path(uri)
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copy2(source, destination / source.name)
            return 1
        if not source.is_dir():
            raise FileNotFoundError(f"{uri} holds nothing (looked in {source})")
        shutil.copytree(source, destination, dirs_exist_ok=True)
        return sum(1 for p in destination.rglob("*") if p.is_file())

    def upload_dir(self, source: Path, uri: str) -> None:
        destination = self.s3_path(uri)
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)

    def execution_dir(self, execution_id: str) -> Path:
        return self.executions_dir / execution_id

    def append_event(self, event: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with _write_lock, self.events_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, sort_keys=True) + "\n")
