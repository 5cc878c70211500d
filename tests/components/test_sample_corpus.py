"""The sample author (data/sample/): writing plus a small code repository of their own, read by the
ETL as one `repositories` document, in a chunk mix where articles and posts dominate; and the
`repositories/` folder rule of export folders that ships it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.common.domain import Author, DocumentType, RawDocument, Rejected
from components.etl.__main__ import main as etl_main
from components.etl.__main__ import read_sources
from components.etl.exports import Skipped
from components.etl.sources import parse_sources
from components.features.sync import build_chunks
from tests.components.conftest import Stores, make_corpus, write

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REPOSITORY = ROOT / "data/sample/repositories/steady"


def _read(spec: str, cwd: Path) -> tuple[list[RawDocument], list[Rejected], list[Skipped]]:
    return read_sources(parse_sources(spec, cwd), cwd, Author("Ada Twin"), 5.0)


def test_the_pipeline_ingests_the_sample_only_by_default() -> None:
    """The first run's work is the sample's, whatever the size of this project (`git:.` is an
    option the README documents, not the default)."""
    spec = yaml.safe_load((ROOT / "definitions/pipelines/llm-twin-ct.yaml").read_text())
    assert spec["parameters"]["DataSources"]["default"] == "data/sample"


def test_the_sample_holds_its_authors_code_as_one_repository() -> None:
    documents, rejected, skipped = _read("data/sample", ROOT)
    assert rejected == []
    assert {s.location for s in skipped} == {"data/sample/README.md", "data/sample/LICENSE"}
    [repository] = [d for d in documents if d.type == DocumentType.REPOSITORIES]
    assert (repository.title, repository.link) == ("steady", "data/sample/repositories/steady")
    assert repository.author.full_name == "Ada Twin"
    assert repository.metadata["read_from"] == "folder"
    paths = {f["path"] for f in repository.content}
    assert {"README.md", "steady/gate.py", "tests/test_steady.py"} <= paths
    assert not any("__pycache__" in p or p.startswith(".") for p in paths)


def test_articles_and_posts_dominate_the_chunk_mix(embedding_tokenizer: Any) -> None:
    """Roughly the LLM Engineer's Handbook's mix: writing first, code a minority (about 1/4)."""
    documents, _, _ = _read("data/sample", ROOT)
    chunks: Counter[str] = Counter()
    for document in documents:
        chunks[str(document.type)] += len(build_chunks(document.record(), embedding_tokenizer))
    prose, code = chunks["articles"] + chunks["posts"], chunks["repositories"]
    total = prose + code
    assert prose > 2 * code, chunks
    assert 0.1 <= code / total <= 0.35, chunks
    assert chunks["articles"] > chunks["posts"] > 0, chunks
    # Small enough that the first `make run` stays quick: about 80 chunks today.
    assert total <= 150, chunks


def test_the_sample_code_passes_its_own_tests(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(SAMPLE_REPOSITORY),
            "-c",
            str(SAMPLE_REPOSITORY / "pyproject.toml"),
            str(SAMPLE_REPOSITORY / "tests"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(SAMPLE_REPOSITORY.rglob("__pycache__"))


def test_each_folder_under_repositories_is_one_repository(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=1)
    code = corpus / "repositories"
    write(code / "tool" / "tool.py", "def run() -> int:\n    return 0\n")
    write(code / "tool" / "README.md", "# tool\n")
    write(code / "tool" / "__pycache__" / "tool.cpython-311.pyc", "junk\n")
    write(code / "tool" / "data.json", "{}")
    write(code / "other" / "main.py", "print('hi')\n")
    (code / "empty").mkdir()
    write(code / ".hidden" / "x.py", "x = 1\n")
    write(code / "README.md", "Our code.\n")  # source metadata, as anywhere else
    write(code / "stray.py", "y = 2\n")  # belongs to no repository
    monkeypatch.chdir(tmp_path)  # the link is the location as the source was written

    assert etl_main(["--sources", "corpus", "--author", "Ada Twin"]) == 0
    snapshot = stores.snapshot()
    assert snapshot["by_type"] == {"articles": 1, "posts": 1, "repositories": 2}
    assert snapshot["quarantined_reasons"] == {
        "a file directly in repositories/ (each repository is a folder)": 1,
        "empty text (no text files in the repository)": 1,
    }
    assert snapshot["skipped_reasons"] == {"hidden folder": 1, "source metadata": 1}
    tool = stores.db.repositories.find_one({"title": "tool"})
    assert tool["link"] == "corpus/repositories/tool"
    assert [f["path"] for f in tool["content"]] == ["README.md", "tool.py"]
    assert tool["metadata"]["skipped_files"] == [
        {"path": "data.json", "reason": "data file (.json)"}
    ]
    quarantined = {row["location"] for row in stores.db.quarantine.find()}
    assert quarantined == {"corpus/repositories/stray.py", "corpus/repositories/empty"}

    # The ids come from the locations: a re-run changes nothing.
    assert etl_main(["--sources", "corpus", "--author", "Ada Twin"]) == 0
    assert (stores.snapshot()["inserted"], stores.snapshot()["updated"]) == (0, 0)
    capsys.readouterr()


def test_a_repository_inside_a_git_work_tree_is_read_from_disk(tmp_path: Path) -> None:
    """data/sample lives in this project's work tree: its repository must not become the
    project (the origin's link, the committed tree), only the folder."""
    project = tmp_path / "project"
    write(project / "exports" / "repositories" / "tool" / "tool.py", "x = 1\n")
    for args in (["init", "-q"], ["remote", "add", "origin", "https://example.com/p.git"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    documents, rejected, _ = _read("exports", project)
    assert rejected == []
    [tool] = documents
    assert (tool.link, tool.title, tool.metadata["read_from"]) == (
        "exports/repositories/tool",
        "tool",
        "folder",
    )
