"""ETL into a real MongoDB wire server: idempotence, updates, types, quarantine, repositories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from components.etl.__main__ import main as etl_main
from tests.components.conftest import Stores, make_corpus, write


def run_etl(stores: Stores, sources: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert etl_main(["--sources", sources, "--author", "Ada Twin"]) == 0, capsys.readouterr().err
    return stores.snapshot()


def test_rerun_inserts_nothing_and_keeps_the_digest(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=3, posts=2)
    write(corpus / "README.md", "About this folder.\n")
    first = run_etl(stores, str(corpus), capsys)
    assert (first["inserted"], first["unchanged"], first["quarantined"]) == (5, 0, 0)
    assert first["skipped"] == 1  # README is source metadata
    assert first["by_type"] == {"articles": 3, "posts": 2, "repositories": 0}
    out = capsys.readouterr().out
    assert "etl: 5 inserted, 0 updated, 0 unchanged, 0 quarantined, 1 skipped" in out

    second = run_etl(stores, str(corpus), capsys)
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 5)
    assert second["digest"] == first["digest"]
    for collection in ("articles", "posts"):
        ids = [row["_id"] for row in stores.db[collection].find({}, {"_id": 1})]
        assert len(ids) == len(set(ids))
    assert stores.db.articles.count_documents({}) == 3
    assert stores.db.users.count_documents({}) == 1
    user = stores.db.users.find_one()
    assert (user["first_name"], user["last_name"]) == ("Ada", "Twin")


def test_a_changed_document_is_updated_in_place(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=2, posts=1)
    first = run_etl(stores, str(corpus), capsys)
    post = corpus / "posts" / "post-0.md"
    post.write_text(post.read_text() + "Edited later.\n")
    second = run_etl(stores, str(corpus), capsys)
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 1, 2)
    assert second["digest"] != first["digest"]
    assert stores.db.posts.count_documents({}) == 1
    assert "Edited later." in stores.db.posts.find_one()["content"]


def test_type_rule_front_matter_then_folder_then_length(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "posts" / "declared.md", "---\ntype: article\ntitle: Declared\n---\nShort.\n")
    write(corpus / "articles" / "by-folder.md", "Even a short text in articles/ is an article.\n")
    write(corpus / "loose" / "long.md", "word " * 250)
    write(corpus / "loose" / "short.md", "A short loose note is a post.\n")
    write(
        corpus / "export.json",
        '[{"text": "From a JSON export.", "link": "https://x.example/1", "date": "2024-05-01"}, '
        '{"text": "No link: id from text.", "type": "article"}]',
    )
    write(
        corpus / "page.html",
        '<html><head><title>An HTML export</title><link rel="canonical" '
        'href="https://ada.example/page"><meta name="type" content="post"></head><body>'
        "<nav>menu</nav><p>Body text of the page.</p><script>var x;</script></body></html>",
    )
    snapshot = run_etl(stores, str(corpus), capsys)
    assert snapshot["quarantined"] == 0
    articles = {d["title"] for d in stores.db.articles.find()}
    posts = {d["title"] for d in stores.db.posts.find()}
    assert articles == {"Declared", "by-folder", "long", "No link: id from text."}
    assert posts == {"short", "From a JSON export.", "An HTML export"}
    page = stores.db.posts.find_one({"title": "An HTML export"})
    assert page["link"] == "https://ada.example/page"
    assert page["content"] == "Body text of the page."
    exported = stores.db.posts.find_one({"title": "From a JSON export."})
    assert exported["metadata"] == {
        "location": f"{corpus}/export.json#0",
        "published": "2024-05-01",
    }
    unlinked = stores.db.articles.find_one({"title": "No link: id from text."})
    assert "#sha256:" in unlinked["link"]


def test_each_bad_input_is_quarantined_with_its_reason(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=0)
    write(corpus / "empty.md", "   \n\n")
    (corpus / "latin1.md").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    os.symlink(corpus / "gone.md", corpus / "unreadable.md")
    write(corpus / "broken.json", '[{"text": "unterminated"')
    write(corpus / "items.json", '[{"text": ""}, 3]')
    (corpus / "photo.png").write_bytes(b"\x89PNG\r\n")
    snapshot = run_etl(stores, str(corpus), capsys)
    assert (snapshot["inserted"], snapshot["quarantined"]) == (1, 7)
    reasons = {row["location"].split("/")[-1]: row["reason"] for row in stores.db.quarantine.find()}
    assert reasons == {
        "empty.md": "empty text",
        "latin1.md": "wrong encoding: not UTF-8 (invalid continuation byte at byte 3)",
        "unreadable.md": "unreadable: No such file or directory",
        "broken.json": "malformed JSON: Expecting ',' delimiter at line 1",
        "items.json#0": "empty text",
        "items.json#1": "a JSON item that is not an object",
        "photo.png": "unsupported file type '.png'",
    }
    latin = stores.db.quarantine.find_one({"location": {"$regex": "latin1.md$"}})
    assert latin["raw"] == "Caf\xe9 cr\xe8me".encode("latin-1")  # the bytes are kept, not lost
    out = capsys.readouterr().out
    assert "quarantined" in out and "latin1.md: wrong encoding" in out

    # A re-run does not pile up entries; a fixed input leaves quarantine and becomes a document.
    (corpus / "latin1.md").write_text("Café crème, now in UTF-8.", encoding="utf-8")
    again = run_etl(stores, str(corpus), capsys)
    assert (again["inserted"], again["quarantined"]) == (1, 6)
    assert stores.db.quarantine.count_documents({}) == 6
    assert stores.db.quarantine.find_one({"location": {"$regex": "empty.md$"}})["attempts"] == 2


def test_conflicting_duplicate_links_are_quarantined(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "posts" / "a.md", "---\nlink: https://x.example/same\n---\nFirst text.\n")
    write(corpus / "posts" / "b.md", "---\nlink: https://x.example/same\n---\nOther text.\n")
    snapshot = run_etl(stores, str(corpus), capsys)
    assert (snapshot["inserted"], snapshot["quarantined"]) == (1, 1)
    assert "duplicate link" in stores.db.quarantine.find_one()["reason"]


def _git(repo: Path, *args: str) -> None:
    identity = {"NAME": "Ada", "EMAIL": "ada@example.com"}
    env = {
        **os.environ,
        **{f"GIT_{who}_{k}": v for who in ("AUTHOR", "COMMITTER") for k, v in identity.items()},
    }
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def test_a_git_repository_is_one_document_of_its_committed_files(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    repo = tmp_path / "project"
    write(repo / "src" / "app.py", "def main() -> int:\n    return 0\n")
    write(repo / "README.md", "# Project\n")
    write(repo / "data.json", "{}")
    (repo / "logo.bin").write_bytes(b"\x00\x01")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    write(repo / "uncommitted.py", "print('not yet')\n")
    monkeypatch.chdir(tmp_path)  # relative sources resolve against the working directory

    snapshot = run_etl(stores, "git:project", capsys)
    assert (snapshot["inserted"], snapshot["by_type"]["repositories"]) == (1, 1)
    document = stores.db.repositories.find_one()
    assert [f["path"] for f in document["content"]] == ["README.md", "src/app.py"]
    assert document["title"] == "project" and document["link"] == "git:project"
    skipped = {s["path"]: s["reason"] for s in document["metadata"]["skipped_files"]}
    assert skipped == {"data.json": "data file (.json)", "logo.bin": "data file (.bin)"}
    assert len(document["metadata"]["commit"]) == 40

    # Uncommitted work does not change the document; a commit does.
    assert run_etl(stores, "git:project", capsys)["unchanged"] == 1
    _git(repo, "add", "uncommitted.py")
    _git(repo, "commit", "-q", "-m", "second")
    assert run_etl(stores, "git:project", capsys)["updated"] == 1

    # A remote repository is cloned (here from a local path, as a file:// URL).
    clone = run_etl(stores, f"git:file://{repo}", capsys)
    assert clone["inserted"] == 1
    assert stores.db.repositories.count_documents({}) == 2


def test_a_folder_that_is_not_a_work_tree_is_read_from_disk(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plain"
    write(folder / "main.py", "print('hi')\n")
    write(folder / ".hidden" / "secret.txt", "token\n")
    snapshot = run_etl(stores, f"git:{folder}", capsys)
    assert snapshot["inserted"] == 1
    document = stores.db.repositories.find_one()
    assert [f["path"] for f in document["content"]] == ["main.py"]
    assert document["metadata"]["read_from"] == "folder"


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ("does-not-exist", "etl: source 'does-not-exist': no such folder"),
        ("git:nowhere", "etl: source 'git:nowhere': no such folder"),
        ("ftp://example.com/x", "etl: source 'ftp://example.com/x': unsupported scheme"),
        ("https://", "etl: source 'https://': a URL without a host"),
    ],
)
def test_bad_sources_fail_before_anything_is_written(
    stores: Stores, capsys: pytest.CaptureFixture[str], sources: str, message: str
) -> None:
    assert etl_main(["--sources", sources, "--author", "Ada"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)
    assert stores.db.list_collection_names() == []


def test_missing_settings_and_unreachable_mongodb_are_one_line(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=0)
    monkeypatch.delenv("MONGODB_URI")
    assert etl_main(["--sources", str(corpus), "--author", "Ada"]) == 1
    assert capsys.readouterr().err.strip() == (
        "etl: MONGODB_URI is not set (set MONGODB_URI, or MONGODB_URI_SECRET to "
        "secretsmanager:<id>[#json_key] or ssm:<name>)"
    )
    from tests.conftest import free_port

    closed = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300"
    monkeypatch.setenv("MONGODB_URI", closed)
    assert etl_main(["--sources", str(corpus), "--author", "Ada"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("etl: MongoDB at mongodb://127.0.0.1:")
    assert "is unreachable" in err[0]


def test_no_sources_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert etl_main(["--sources", " , ", "--author", "Ada"]) == 2
    assert capsys.readouterr().err.strip() == "etl: --sources names no source"


def test_an_unlistable_folder_is_quarantined_not_skipped(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=0)
    (corpus / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):  # root reads every folder, so refuse this one the way a chmod would
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    snapshot = run_etl(stores, str(corpus), capsys)
    assert (snapshot["inserted"], snapshot["quarantined"]) == (1, 1)
    entry = stores.db.quarantine.find_one()
    assert entry["location"].endswith("corpus/locked")
    assert entry["reason"] == "unreadable folder: Permission denied"
