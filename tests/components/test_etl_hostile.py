"""ETL on hostile source trees, built at test time: every input is stored, quarantined or skipped
with its reason, the counts add up, nothing hangs, and the good documents beside the hostile
ones are stored."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.etl import exports, files, store
from components.etl.__main__ import main as etl_main
from tests.components.conftest import Stores, make_corpus, write

# make_corpus(articles=1, posts=1): the good documents every hostile tree sits next to.
GOOD = {"articles/article-0.md": "Article 0", "posts/post-0.md": "post-0"}
OUTSIDE = files.LINK_OUTSIDE
LINKED = files.LINKED_FOLDER
PIPE = "not a regular file (a named pipe)"
CHAR_DEVICE = "not a regular file (a character device)"
SOCKET = "not a regular file (a socket)"
TOO_DEEP = "malformed JSON: nested deeper than 100 levels"


class Hung(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in the job can hide it."""


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """A FIFO or a device read used to hang the job: fail the test instead of the whole run."""

    def on_alarm(signum: int, frame: object) -> None:
        raise Hung("the ETL run did not finish in 20 s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Run:
    corpus: Path
    snapshot: dict
    out: str
    stores: Stores

    def rel(self, location: str) -> str:
        return location.removeprefix(f"{self.corpus}/")

    def quarantined(self) -> dict[str, str]:
        return {
            self.rel(row["location"]): row["reason"] for row in self.stores.db.quarantine.find()
        }

    def skipped(self) -> dict[str, str]:
        prefix = f"etl: skipped {self.corpus}/"
        lines = [line[len(prefix) :] for line in self.out.splitlines() if line.startswith(prefix)]
        return dict(line.split(": ", 1) for line in lines)

    def stored(self) -> dict[str, str]:
        """location (relative) -> title of every article and post in the store."""
        found = {}
        for collection in ("articles", "posts"):
            for row in self.stores.db[collection].find():
                found[self.rel(row["metadata"]["location"])] = row["title"]
        return found


def run_etl(stores: Stores, corpus: Path, capsys: pytest.CaptureFixture[str], **kw) -> Run:
    sources = kw.get("sources", str(corpus))
    code = etl_main(["--sources", sources, "--author", "Ada Twin"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return Run(corpus, stores.snapshot(), captured.out, stores)


def _bytes_name(folder: Path, name: bytes) -> bytes:
    return os.fsencode(folder) + b"/" + name


# -- builders: (corpus, outside) -> None ---------------------------------------------------------
def deep_list(corpus: Path, outside: Path) -> None:
    write(corpus / "export.json", "[" * 100_000 + "]" * 100_000)


def deep_object(corpus: Path, outside: Path) -> None:
    write(corpus / "export.json", '{"a": ' * 5_000 + "1" + "}" * 5_000)


def deep_but_parseable(corpus: Path, outside: Path) -> None:
    # 150 levels: json parses it, and it is still refused before anything walks it recursively.
    write(corpus / "export.json", '{"text": "t", "meta": ' + "[" * 150 + "]" * 150 + "}")


def nested_within_limit(corpus: Path, outside: Path) -> None:
    meta = "[" * 50 + "]" * 50
    write(corpus / "export.json", '{"text": "Nested metadata is fine.", "meta": ' + meta + "}")


def json_surrogate_text(corpus: Path, outside: Path) -> None:
    write(corpus / "export.json", '[{"text": "bad \\ud800 text"}, {"text": "A good record."}]')


def json_surrogate_link(corpus: Path, outside: Path) -> None:
    write(corpus / "export.json", '{"text": "Some text.", "link": "https://x.example/\\udfff"}')


def json_surrogate_title(corpus: Path, outside: Path) -> None:
    write(corpus / "export.json", '{"text": "Some text.", "title": "\\ud83d"}')


def json_huge_integer(corpus: Path, outside: Path) -> None:
    write(corpus / "export.json", '{"text": "x", "n": ' + "1" * 5_000 + "}")


def bad_utf8_name(corpus: Path, outside: Path) -> None:
    with open(_bytes_name(corpus, b"bad\xff.md"), "wb") as handle:
        handle.write(b"A good text under a name that is not UTF-8.\n")


def bad_utf8_folder(corpus: Path, outside: Path) -> None:
    folder = _bytes_name(corpus, b"dir\xfe")
    os.mkdir(folder)
    with open(folder + b"/note.md", "wb") as handle:
        handle.write(b"A note in a folder whose name is not UTF-8.\n")


def bad_utf8_unsupported(corpus: Path, outside: Path) -> None:
    with open(_bytes_name(corpus, b"img\xff.png"), "wb") as handle:
        handle.write(b"\x89PNG\r\n")


def bad_utf8_hidden(corpus: Path, outside: Path) -> None:
    with open(_bytes_name(corpus, b".hid\xff"), "wb") as handle:
        handle.write(b"hidden\n")


def control_char_name(corpus: Path, outside: Path) -> None:
    write(corpus / "new\nline.md", "A name with a newline in it.\n")


def link_to_dev_zero(corpus: Path, outside: Path) -> None:
    os.symlink("/dev/zero", corpus / "zero.md")


def link_chain_to_dev_zero(corpus: Path, outside: Path) -> None:
    os.symlink("/dev/zero", corpus / "b.md")
    os.symlink(corpus / "b.md", corpus / "a.md")


def device_inside(corpus: Path, outside: Path) -> None:
    try:
        os.mknod(corpus / "zero.md", 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    os.symlink(corpus / "zero.md", corpus / "alias.md")


def markdown_links_to_dev_zero(corpus: Path, outside: Path) -> None:
    write(
        corpus / "links.md",
        "# Links\n\nSee [zero](/dev/zero), ![image](/dev/zero) and ![f](file:///dev/zero).\n",
    )


def html_links_to_dev_zero(corpus: Path, outside: Path) -> None:
    write(
        corpus / "page.html",
        '<html><head><title>Page</title><link rel="icon" href="/dev/zero"></head><body>'
        '<img src="/dev/zero"><p>Text with <a href="file:///dev/zero">a link</a>.</p></body>',
    )


def fifo(corpus: Path, outside: Path) -> None:
    os.mkfifo(corpus / "pipe.md")


def fifo_without_suffix(corpus: Path, outside: Path) -> None:
    os.mkfifo(corpus / "pipe")


def fifo_in_subfolder(corpus: Path, outside: Path) -> None:
    os.mkfifo(corpus / "posts" / "pipe.md")
    os.mkfifo(corpus / "posts" / "pipe.json")


def unix_socket(corpus: Path, outside: Path) -> None:
    # A socket path must be short: bind it relative to its folder.
    here = Path.cwd()
    os.chdir(corpus)
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind("sock.md")
    finally:
        os.chdir(here)


def linked_folder_inside(corpus: Path, outside: Path) -> None:
    os.symlink(corpus / "posts", corpus / "alias")


def linked_folder_cycle(corpus: Path, outside: Path) -> None:
    os.symlink(corpus, corpus / "posts" / "back")


def linked_folder_outside(corpus: Path, outside: Path) -> None:
    write(outside / "private.md", "Not part of the source.\n")
    os.symlink(outside, corpus / "ext")


def linked_root_folder(corpus: Path, outside: Path) -> None:
    os.symlink("/dev", corpus / "dev")


def link_file_outside(corpus: Path, outside: Path) -> None:
    write(outside / "secret.md", "Not part of the source.\n")
    os.symlink(outside / "secret.md", corpus / "secret.md")


def link_dangling_outside(corpus: Path, outside: Path) -> None:
    os.symlink("/nonexistent/nowhere.md", corpus / "gone.md")


def link_file_inside(corpus: Path, outside: Path) -> None:
    os.symlink(corpus / "posts" / "post-0.md", corpus / "alias.md")


def link_loop(corpus: Path, outside: Path) -> None:
    os.symlink(corpus / "loop.md", corpus / "loop.md")


def empty_file(corpus: Path, outside: Path) -> None:
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "empty.json").write_bytes(b"")
    (corpus / "empty.html").write_bytes(b"")


def binary_markdown(corpus: Path, outside: Path) -> None:
    (corpus / "nul.md").write_bytes(b"text\x00\x01\x02binary")
    (corpus / "ff.md").write_bytes(b"\xff\xfe\xfd\x00")


def binary_unsupported(corpus: Path, outside: Path) -> None:
    (corpus / "blob.bin").write_bytes(os.urandom(64))
    (corpus / "noext").write_bytes(b"\x00")


def huge_sparse(corpus: Path, outside: Path) -> None:
    with open(corpus / "huge.md", "wb") as handle:
        handle.truncate(exports.MAX_FILE_BYTES + 1)


def at_and_over_limit(corpus: Path, outside: Path) -> None:
    # The good article is about 4.6 kB: under this run's limit of 8 KiB.
    (corpus / "at.md").write_bytes(b"x" * 8192)
    (corpus / "over.md").write_bytes(b"x" * 8193)


def identical_duplicates(corpus: Path, outside: Path) -> None:
    text = "---\ntitle: Same\nlink: https://x.example/same\n---\nThe same text.\n"
    write(corpus / "posts" / "a.md", text)
    write(corpus / "posts" / "b.md", text)


def conflicting_duplicates(corpus: Path, outside: Path) -> None:
    write(corpus / "posts" / "a.md", "---\nlink: https://x.example/same\n---\nFirst.\n")
    write(corpus / "posts" / "b.md", "---\nlink: https://x.example/same\n---\nSecond.\n")


def duplicate_json_records(corpus: Path, outside: Path) -> None:
    record = {"text": "Repeated record.", "link": "https://x.example/r"}
    write(corpus / "export.json", json.dumps([record, record]))


def hidden_and_metadata(corpus: Path, outside: Path) -> None:
    write(corpus / ".git" / "config", "[core]\n")
    write(corpus / ".draft.md", "hidden draft\n")
    write(corpus / "README.md", "about\n")
    write(corpus / "posts" / "LICENSE", "MIT\n")


# -- cases ---------------------------------------------------------------------------------------
@dataclass
class Case:
    build: Callable[[Path, Path], None]
    quarantined: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    stored: dict[str, str] = field(default_factory=dict)  # beside GOOD: location -> title
    unchanged: int = 0
    limit: int | None = None  # a smaller MAX_FILE_BYTES for this run


CASES = {
    "deep-json-list": Case(deep_list, quarantined={"export.json": TOO_DEEP}),
    "deep-json-object": Case(deep_object, quarantined={"export.json": TOO_DEEP}),
    "deep-json-parseable": Case(deep_but_parseable, quarantined={"export.json": TOO_DEEP}),
    "json-nested-within-limit": Case(
        nested_within_limit, stored={"export.json": "Nested metadata is fine."}
    ),
    "json-lone-surrogate-text": Case(
        json_surrogate_text,
        quarantined={"export.json#0": "not valid Unicode: a lone surrogate \\ud800 in the text"},
        stored={"export.json#1": "A good record."},
    ),
    "json-lone-surrogate-link": Case(
        json_surrogate_link,
        quarantined={"export.json": "not valid Unicode: a lone surrogate \\udfff in the link"},
    ),
    "json-lone-surrogate-title": Case(
        json_surrogate_title,
        quarantined={"export.json": "not valid Unicode: a lone surrogate \\ud83d in the title"},
    ),
    "json-huge-integer": Case(
        json_huge_integer,
        quarantined={
            "export.json": "malformed JSON: Exceeds the limit (4300 digits) for integer string "
            "conversion: value has 5000 digits"
        },
    ),
    "name-not-utf8": Case(bad_utf8_name, stored={"bad\\xff.md": "bad\\xff"}),
    "folder-name-not-utf8": Case(bad_utf8_folder, stored={"dir\\xfe/note.md": "note"}),
    "name-not-utf8-unsupported": Case(
        bad_utf8_unsupported, quarantined={"img\\xff.png": "unsupported file type '.png'"}
    ),
    "name-not-utf8-hidden": Case(bad_utf8_hidden, skipped={".hid\\xff": "hidden file"}),
    "name-with-newline": Case(control_char_name, stored={"new\\nline.md": "new\\nline"}),
    "link-to-dev-zero": Case(link_to_dev_zero, skipped={"zero.md": OUTSIDE}),
    "link-chain-to-dev-zero": Case(
        link_chain_to_dev_zero, skipped={"a.md": OUTSIDE, "b.md": OUTSIDE}
    ),
    "device-inside-root": Case(
        device_inside, skipped={"zero.md": CHAR_DEVICE, "alias.md": CHAR_DEVICE}
    ),
    "markdown-links-to-dev-zero": Case(markdown_links_to_dev_zero, stored={"links.md": "Links"}),
    "html-links-to-dev-zero": Case(html_links_to_dev_zero, stored={"page.html": "Page"}),
    "fifo": Case(fifo, skipped={"pipe.md": PIPE}),
    "fifo-without-suffix": Case(fifo_without_suffix, skipped={"pipe": PIPE}),
    "fifo-in-subfolder": Case(
        fifo_in_subfolder, skipped={"posts/pipe.md": PIPE, "posts/pipe.json": PIPE}
    ),
    "socket": Case(unix_socket, skipped={"sock.md": SOCKET}),
    "linked-folder-inside": Case(linked_folder_inside, skipped={"alias": LINKED}),
    "linked-folder-cycle": Case(linked_folder_cycle, skipped={"posts/back": LINKED}),
    "linked-folder-outside": Case(linked_folder_outside, skipped={"ext": OUTSIDE}),
    "linked-folder-dev": Case(linked_root_folder, skipped={"dev": OUTSIDE}),
    "link-file-outside": Case(link_file_outside, skipped={"secret.md": OUTSIDE}),
    "link-dangling-outside": Case(link_dangling_outside, skipped={"gone.md": OUTSIDE}),
    "link-file-inside": Case(link_file_inside, stored={"alias.md": "alias"}),
    "link-loop": Case(
        link_loop, quarantined={"loop.md": "unreadable: Too many levels of symbolic links"}
    ),
    "empty-files": Case(
        empty_file,
        quarantined={
            "empty.md": "empty text",
            "empty.json": "malformed JSON: Expecting value at line 1",
            "empty.html": "empty text",
        },
    ),
    "binary-markdown": Case(
        binary_markdown,
        quarantined={
            "nul.md": "wrong encoding: binary data (NUL bytes), not text",
            "ff.md": "wrong encoding: not UTF-8 (invalid start byte at byte 0)",
        },
    ),
    "binary-unsupported": Case(
        binary_unsupported,
        quarantined={
            "blob.bin": "unsupported file type '.bin'",
            "noext": "unsupported file type '(none)'",
        },
    ),
    "huge-sparse-file": Case(
        huge_sparse,
        quarantined={
            "huge.md": f"too large ({exports.MAX_FILE_BYTES + 1} bytes; "
            f"the limit is {exports.MAX_FILE_BYTES})"
        },
    ),
    "at-and-over-the-limit": Case(
        at_and_over_limit,
        quarantined={"over.md": "too large (8193 bytes; the limit is 8192)"},
        stored={"at.md": "at"},
        limit=8192,
    ),
    "identical-duplicates": Case(identical_duplicates, stored={"posts/a.md": "Same"}, unchanged=1),
    "conflicting-duplicates": Case(
        conflicting_duplicates,
        quarantined={
            "posts/b.md": "duplicate link 'https://x.example/same' with other content than "
            "{corpus}/posts/a.md"
        },
        stored={"posts/a.md": "a"},
    ),
    "duplicate-json-records": Case(
        duplicate_json_records, stored={"export.json#0": "Repeated record."}, unchanged=1
    ),
    "hidden-and-metadata": Case(
        hidden_and_metadata,
        skipped={
            ".git": "hidden folder",
            ".draft.md": "hidden file",
            "README.md": "source metadata",
            "posts/LICENSE": "source metadata",
        },
    ),
}


# The cases whose entries have distinct names, so they can share one tree.
ALL_AT_ONCE = [
    "deep-json-list",
    "name-not-utf8",
    "folder-name-not-utf8",
    "name-not-utf8-unsupported",
    "name-not-utf8-hidden",
    "name-with-newline",
    "link-chain-to-dev-zero",
    "device-inside-root",
    "markdown-links-to-dev-zero",
    "html-links-to-dev-zero",
    "fifo",
    "fifo-without-suffix",
    "fifo-in-subfolder",
    "socket",
    "linked-folder-inside",
    "linked-folder-cycle",
    "linked-folder-outside",
    "linked-folder-dev",
    "link-file-outside",
    "link-dangling-outside",
    "link-loop",
    "empty-files",
    "binary-markdown",
    "binary-unsupported",
    "huge-sparse-file",
    "conflicting-duplicates",
    "hidden-and-metadata",
]


def _check(run: Run, case: Case) -> None:
    snapshot = run.snapshot
    quarantined = {k: v.format(corpus=run.corpus) for k, v in case.quarantined.items()}
    assert run.quarantined() == quarantined
    assert run.skipped() == case.skipped
    assert run.stored() == {**GOOD, **case.stored}  # the good documents are all there
    assert snapshot["quarantined"] == len(case.quarantined)
    assert snapshot["skipped"] == len(case.skipped)
    assert snapshot["skipped_reasons"] == dict(Counter(case.skipped.values()))
    assert snapshot["quarantined_reasons"] == dict(Counter(quarantined.values()))
    assert (snapshot["inserted"], snapshot["updated"], snapshot["unchanged"]) == (
        len(GOOD) + len(case.stored),
        0,
        case.unchanged,
    )
    assert snapshot["stored"] == len(GOOD) + len(case.stored) + case.unchanged
    assert snapshot["inputs"] == snapshot["stored"] + snapshot["quarantined"] + snapshot["skipped"]
    out = run.out.splitlines()
    summary = next(line for line in out if " inserted, " in line)
    assert summary.startswith(f"etl: {snapshot['inserted']} inserted, 0 updated, ")
    for line in out:  # every line printed is one line of valid UTF-8
        line.encode("utf-8")


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_entry_is_counted_and_the_rest_is_stored(
    name: str,
    stores: Stores,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=1)
    outside = tmp_path / "outside"
    outside.mkdir()
    case.build(corpus, outside)
    if case.limit is not None:
        monkeypatch.setattr(exports, "MAX_FILE_BYTES", case.limit)
    _check(run_etl(stores, corpus, capsys), case)


def test_every_hostile_entry_at_once_and_a_rerun_changes_nothing(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=1)
    outside = tmp_path / "outside"
    outside.mkdir()
    merged = Case(lambda corpus, outside: None)
    for name in ALL_AT_ONCE:
        case = CASES[name]
        case.build(corpus, outside)
        merged.quarantined.update(case.quarantined)
        merged.skipped.update(case.skipped)
        merged.stored.update(case.stored)
        merged.unchanged += case.unchanged
    started = time.monotonic()
    first = run_etl(stores, corpus, capsys)
    assert time.monotonic() - started < 10
    _check(first, merged)
    assert len(merged.quarantined) >= 8 and len(merged.skipped) >= 12

    again = run_etl(stores, corpus, capsys)
    snapshot = again.snapshot
    assert (snapshot["inserted"], snapshot["updated"]) == (0, 0)
    assert snapshot["unchanged"] == first.snapshot["stored"]
    assert (snapshot["quarantined"], snapshot["skipped"]) == (
        first.snapshot["quarantined"],
        first.snapshot["skipped"],
    )
    assert snapshot["digest"] == first.snapshot["digest"]
    assert stores.db.quarantine.count_documents({}) == len(merged.quarantined)


def test_a_file_that_fails_unexpectedly_is_quarantined_alone(
    stores: Stores,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=1)
    write(corpus / "boom.html", "<p>boom</p>")
    write(corpus / "oom.html", "<p>oom</p>")
    write(corpus / "fine.html", "<title>Fine</title><p>A fine page.</p>")
    real_extract = exports.extract

    def extract(html: str):
        if "boom" in html:
            raise RuntimeError("boom\nsecond line")
        if "oom" in html:
            raise MemoryError
        return real_extract(html)

    monkeypatch.setattr(exports, "extract", extract)
    _check(
        run_etl(stores, corpus, capsys),
        Case(
            lambda c, o: None,
            quarantined={
                "boom.html": "could not be read: RuntimeError: boom",
                "oom.html": "could not be read: MemoryError",
            },
            stored={"fine.html": "Fine"},
        ),
    )


def test_a_document_mongodb_cannot_hold_is_quarantined_alone(
    stores: Stores,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=1)
    write(corpus / "posts" / "long.md", "word " * 1000)
    monkeypatch.setattr(store, "MAX_DOCUMENT_BYTES", 3000)  # article and long.md ~5 kB, post less
    run = run_etl(stores, corpus, capsys)
    reasons = run.quarantined()
    assert set(reasons) == {"articles/article-0.md", "posts/long.md"}
    assert all(
        r.startswith("cannot be stored: ") and r.endswith("bytes as BSON; MongoDB's limit is 3000")
        for r in reasons.values()
    )
    assert run.stored() == {"posts/post-0.md": "post-0"}
    snapshot = run.snapshot
    assert (snapshot["inputs"], snapshot["stored"], snapshot["quarantined"]) == (3, 1, 2)


def test_a_source_folder_whose_name_is_not_utf8(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = os.fsencode(tmp_path) + b"/src\xff"
    os.mkdir(root)
    with open(root + b"/note.md", "wb") as handle:
        handle.write(b"A note.\n")
    source = os.fsdecode(root)
    run = run_etl(stores, tmp_path, capsys, sources=source)
    label = f"{tmp_path}/src\\xff"
    assert run.snapshot["sources"] == [f"folder:{label}"]
    assert run.snapshot["inserted"] == 1
    assert stores.db.posts.find_one()["metadata"]["location"] == f"{label}/note.md"


def test_an_author_that_is_not_utf8_is_one_line(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=1, posts=0)
    assert etl_main(["--sources", str(corpus), "--author", "Ada \udcff"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["etl: --author 'Ada \\xff' is not valid UTF-8 text"]
    assert stores.db.list_collection_names() == []


# -- the safe reader on its own -------------------------------------------------------------------
def test_read_bounded_never_reads_a_device_or_waits_on_a_pipe(tmp_path: Path) -> None:
    with pytest.raises(files.NotRegular, match="a character device"):
        files.read_bounded(Path("/dev/zero"), 10)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(files.NotRegular, match="a named pipe"):
        files.read_bounded(tmp_path / "pipe", 10)
    with pytest.raises(files.NotRegular, match="a folder"):
        files.read_bounded(tmp_path, 10)


@pytest.mark.parametrize(("size", "limit", "fits"), [(0, 0, True), (10, 10, True), (11, 10, False)])
def test_read_bounded_reads_at_most_the_limit(
    tmp_path: Path, size: int, limit: int, fits: bool
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * size)
    if fits:
        assert files.read_bounded(path, limit) == b"a" * size
    else:
        with pytest.raises(files.TooLarge):
            files.read_bounded(path, limit)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain.md", "plain.md"),
        ("café.md", "café.md"),
        (os.fsdecode(b"bad\xff\xfe.md"), "bad\\xff\\xfe.md"),
        ("lone\ud800", "lone\\ud800"),
        ("a\nb\tc\x1b[31m", "a\\nb\\tc\\x1b[31m"),
    ],
)
def test_display_is_always_valid_one_line_utf8(text: str, shown: str) -> None:
    assert files.display(text) == shown
    shown.encode("utf-8")


# -- git: sources ------------------------------------------------------------------------------
def test_a_plain_folder_repository_with_hostile_entries(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from components.etl import repository

    folder = tmp_path / "plain"
    write(folder / "main.py", "print('hi')\n")
    os.mkfifo(folder / "pipe.py")
    os.symlink("/dev/zero", folder / "zero.py")
    os.symlink(tmp_path, folder / "up")
    with open(folder / "big.py", "wb") as handle:
        handle.truncate(repository.MAX_FILE_BYTES + 1)
    with open(os.fsencode(folder) + b"/odd\xff.py", "wb") as handle:
        handle.write(b"x = 1\n")
    run_etl(stores, folder, capsys, sources=f"git:{folder}")
    document = stores.db.repositories.find_one()
    assert [f["path"] for f in document["content"]] == ["main.py", "odd\\xff.py"]
    skipped = {s["path"]: s["reason"] for s in document["metadata"]["skipped_files"]}
    assert skipped == {
        "pipe.py": PIPE,
        "zero.py": OUTSIDE,
        "up": OUTSIDE,
        "big.py": f"larger than {repository.MAX_FILE_BYTES} bytes",
    }


def test_a_committed_tree_streams_past_big_files_and_lists_links(
    stores: Stores, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from components.etl import repository

    repo = tmp_path / "project"
    write(repo / "app.py", "def main() -> int:\n    return 0\n")
    write(repo / "big.py", "x = 1\n" * (repository.MAX_FILE_BYTES // 6 + 1))
    os.symlink("/dev/zero", repo / "zero.py")
    env = {
        **os.environ,
        **{
            f"GIT_{who}_{k}": v
            for who in ("AUTHOR", "COMMITTER")
            for k, v in {"NAME": "Ada", "EMAIL": "ada@example.com"}.items()
        },
    }
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)
    run_etl(stores, repo, capsys, sources=f"git:{repo}")
    document = stores.db.repositories.find_one()
    assert [f["path"] for f in document["content"]] == ["app.py"]
    skipped = {s["path"]: s["reason"] for s in document["metadata"]["skipped_files"]}
    assert skipped == {
        "big.py": f"larger than {repository.MAX_FILE_BYTES} bytes",
        "zero.py": "a link (not followed)",
    }
