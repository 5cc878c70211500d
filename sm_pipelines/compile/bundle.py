"""The components' code as one content-addressed bundle: same files, same hash, same bytes.

Jobs get the code from S3 under its hash, so a definition names exactly the code it runs and an
unchanged tree never changes the definition (which would defeat SageMaker step caching).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

CODE_PACKAGE = "components"
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class CodeBundle:
    """The files of `components/` (relative POSIX paths and bytes), sorted by path."""

    files: tuple[tuple[str, bytes], ...]

    @cached_property
    def digest(self) -> str:
        sha = hashlib.sha256()
        for path, data in self.files:
            sha.update(path.encode() + b"\0" + hashlib.sha256(data).digest())
        return sha.hexdigest()

    def tarball(self) -> bytes:
        """A gzip tarball that is byte-identical for identical files (no times, owners, names)."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, data in self.files:
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
            gz.write(raw.getvalue())
        return out.getvalue()


@dataclass(frozen=True)
class CodeLocation:
    """Where a bundle lives in an environment's bucket."""

    bucket: str
    prefix: str
    digest: str

    @property
    def base_key(self) -> str:
        return f"{self.prefix}/code/{self.digest}"

    @property
    def tarball_key(self) -> str:
        return f"{self.base_key}/sourcedir.tar.gz"

    @property
    def source_prefix_key(self) -> str:
        return f"{self.base_key}/src/"

    @property
    def tarball_uri(self) -> str:
        return f"s3://{self.bucket}/{self.tarball_key}"

    @property
    def source_prefix_uri(self) -> str:
        return f"s3://{self.bucket}/{self.source_prefix_key}"


def collect_bundle(project_root: Path) -> CodeBundle:
    """Read `components/` under `project_root`, skipping caches and compiled files."""
    base = project_root / CODE_PACKAGE
    files = []
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(project_root)
        if path.is_dir() or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if any(part in _SKIPPED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        files.append((rel.as_posix(), path.read_bytes()))
    return CodeBundle(files=tuple(files))
