"""The code bundle: content hash and tarball are functions of the files alone."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from sm_pipelines.compile.bundle import CodeLocation, collect_bundle


def test_tarball_is_byte_identical_whatever_the_file_times(project: Path) -> None:
    first = collect_bundle(project)
    for path in (project / "components").rglob("*.py"):
        os.utime(path, (1_000_000, 1_000_000))
    second = collect_bundle(project)
    assert first.digest == second.digest
    assert first.tarball() == second.tarball()


def test_caches_are_left_out_and_content_changes_the_digest(project: Path) -> None:
    before = collect_bundle(project)
    cache = project / "components/etl/__pycache__"
    cache.mkdir()
    (cache / "x.cpython-311.pyc").write_bytes(b"junk")
    assert collect_bundle(project).digest == before.digest
    (project / "components/etl/extra.py").write_text("X = 1\n")
    assert collect_bundle(project).digest != before.digest


def test_tarball_holds_exactly_the_files(project: Path) -> None:
    bundle = collect_bundle(project)
    raw = gzip.decompress(bundle.tarball())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
    assert members == dict(bundle.files)
    assert "components/train/__main__.py" in members


def test_location_keys() -> None:
    location = CodeLocation(bucket="b", prefix="p", digest="abc")
    assert location.tarball_uri == "s3://b/p/code/abc/sourcedir.tar.gz"
    assert location.source_prefix_uri == "s3://b/p/code/abc/src/"
