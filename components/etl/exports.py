"""Local folders of exported writing: Markdown, plain text, HTML and JSON.

Type rule (articles vs posts), first match wins:
  1. an explicit type: `type:` in Markdown front matter, a JSON item's "type", or an HTML
     `<meta name="type">` (article/articles/post/posts);
  2. the nearest enclosing folder named `articles` or `posts` below the source folder;
  3. length: ARTICLE_MIN_WORDS words or more is an article, shorter is a post.

Code: a folder named `repositories` holds one code repository per subfolder, each read from disk
as one `repositories` document (repository.read_folder; its link is its location), so an export
folder can ship its author's code beside the writing (data/sample does). A file directly in
`repositories/` is rejected (it belongs to no repository), README/LICENSE files excepted.

Every document is attributed to the run's author. Links come from the export (`link`, `url` or
`canonical_url`; a canonical <link> in HTML), else from the path as the source was written plus the
file's relative path (so ids are stable across machines), and for a JSON item without a link the
hash of its text. Hidden files and folders and README/LICENSE/COPYING files are source metadata and
are counted as skipped; anything else that cannot become a document is rejected with the reason.

Hostile trees are read safely (see files.py): only regular files inside the source folder are
opened, each with a bounded read; named pipes, devices, sockets, linked folders and links that
lead out of the source are skipped with the reason. Each entry is read on its own: whatever goes
wrong with one file (a JSON export nested too deeply, a lone surrogate, an unexpected error) turns
that file into a rejection, never into the end of the job. So every entry the reader meets is
exactly one of: documents, rejections, skipped paths.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from components.common.domain import Author, DocumentType, RawDocument, Rejected, sha256_hex
from components.etl.files import (
    NotRegular,
    TooLarge,
    display,
    error_line,
    first_surrogate,
    is_unicode,
    json_depth,
    read_bounded,
    real_root,
    skip_reason,
)
from components.etl.html_text import extract
from components.etl.repository import read_folder

ARTICLE_MIN_WORDS = 200
MAX_FILE_BYTES = 5 * 1024 * 1024
# Deeper than any real export; the JSON parser itself gives up (RecursionError) near 1000.
MAX_JSON_DEPTH = 100
MARKDOWN_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
METADATA_NAMES = {"readme", "license", "licence", "copying", "notice"}
REPOSITORIES_FOLDER = "repositories"
TEXT_FIELDS = ("content", "text", "body")
LINK_FIELDS = ("link", "url", "canonical_url")
_TYPES = {
    "article": DocumentType.ARTICLES,
    "articles": DocumentType.ARTICLES,
    "post": DocumentType.POSTS,
    "posts": DocumentType.POSTS,
}

Item = RawDocument | Rejected


HIDDEN_FILE = "hidden file"
HIDDEN_FOLDER = "hidden folder"
SOURCE_METADATA = "source metadata"


@dataclass(frozen=True)
class Skipped:
    """A path deliberately not read, with the reason, reported in the counts."""

    location: str
    reason: str


def decode_text(data: bytes) -> str:
    """UTF-8 text (a BOM is allowed); raises UnicodeDecodeError or ValueError for anything else."""
    text = data.decode("utf-8-sig")
    if "\x00" in text:
        raise ValueError("binary data (NUL bytes), not text")
    return text


def encoding_reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"wrong encoding: not UTF-8 ({exc.reason} at byte {exc.start})"
    return f"wrong encoding: {exc}"


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Flat `key: value` front matter between `---` lines, and the body after it."""
    if not text.startswith("---"):
        return {}, text
    lines = text.splitlines()
    if lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            fields = {}
            for line in lines[1:end]:
                key, sep, value = line.partition(":")
                if sep and key.strip() and not key.startswith((" ", "\t", "#")):
                    fields[key.strip().lower()] = value.strip().strip("\"'")
            return fields, "\n".join(lines[end + 1 :])
    return {}, text


def markdown_title(body: str) -> str:
    for line in body.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def choose_type(explicit: str, relative: PurePosixPath, text: str) -> DocumentType | str:
    """The documented rule; an unknown explicit type comes back as a reason string."""
    if explicit:
        found = _TYPES.get(explicit.strip().lower())
        return found if found else f"unknown type {explicit!r} (expected article or post)"
    for folder in reversed(relative.parent.parts):
        if folder.lower() in _TYPES:
            return _TYPES[folder.lower()]
    return DocumentType.ARTICLES if len(text.split()) >= ARTICLE_MIN_WORDS else DocumentType.POSTS


def unicode_problem(fields: dict[str, str]) -> str:
    """The reason a document's text cannot be stored (a lone surrogate, as a JSON export may
    hold as "\\ud800"), or "" when every field is valid Unicode."""
    for name, value in fields.items():
        if not is_unicode(value):
            return f"not valid Unicode: a lone surrogate {first_surrogate(value)} in the {name}"
    return ""


def first_field(record: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


class FolderReader:
    """Reads one source folder into documents, rejections and skipped paths."""

    def __init__(self, root: Path, label: str, author: Author) -> None:
        self.root = root
        self.label = display(label.rstrip("/") or ".")
        self.author = author

    def location(self, relative: PurePosixPath | str) -> str:
        where = display(str(relative))
        return f"{self.label}/{where}" if self.label != "." else where

    def read(self) -> Iterator[Item | Skipped]:
        failures: list[OSError] = []
        root_real = real_root(self.root)
        # os.walk skips a folder it cannot list unless told; that would drop its files silently.
        # It never descends into a linked folder (followlinks=False); those are reported here.
        for directory, folders, files in os.walk(self.root, onerror=failures.append):
            yield from self._unlistable(failures)
            entered = []
            for name in sorted(folders):
                relative = self._relative(Path(directory) / name)
                if name.startswith("."):
                    yield Skipped(self.location(relative), HIDDEN_FOLDER)
                    continue
                reason = skip_reason(Path(directory) / name, root_real, folder=True)
                if reason:
                    yield Skipped(self.location(relative), reason)
                    continue
                entered.append(name)
            folders[:] = entered
            if Path(directory) != self.root and Path(directory).name.lower() == REPOSITORIES_FOLDER:
                # One document per subfolder: read here, never walked as exports.
                folders[:] = []
                for name in entered:
                    path = Path(directory) / name
                    where = self.location(self._relative(path))
                    try:
                        yield read_folder(path, where, self.label, self.author)
                    except Exception as exc:  # one repository must never end the job
                        yield Rejected(where, f"could not be read: {error_line(exc)}", self.label)
            for name in sorted(files):
                path = Path(directory) / name
                relative = self._relative(path)
                if (
                    relative.parent.name.lower() == REPOSITORIES_FOLDER
                    and Path(name).stem.lower() not in METADATA_NAMES
                    and not name.startswith(".")
                ):
                    reason = "a file directly in repositories/ (each repository is a folder)"
                    yield Rejected(self.location(relative), reason, self.label)
                    continue
                # All or nothing per entry: a file that fails half way leaves no half behind.
                try:
                    items = list(self.read_entry(path, relative, root_real))
                except Exception as exc:  # one file must never end the job
                    reason = f"could not be read: {error_line(exc)}"
                    items = [Rejected(self.location(relative), reason, self.label)]
                yield from items
        yield from self._unlistable(failures)

    def _relative(self, path: Path) -> PurePosixPath:
        return PurePosixPath(path.relative_to(self.root).as_posix())

    def _unlistable(self, failures: list[OSError]) -> Iterator[Rejected]:
        while failures:
            failure = failures.pop(0)
            path = Path(os.fsdecode(failure.filename or self.root))
            try:
                where = self.location(path.relative_to(self.root).as_posix())
            except ValueError:
                where = display(str(path))
            reason = display(f"unreadable folder: {failure.strerror or failure}")
            yield Rejected(where, reason, self.label)

    def read_entry(
        self, path: Path, relative: PurePosixPath, root_real: str
    ) -> Iterator[Item | Skipped]:
        """One entry of a listed folder that is not a folder os.walk enters."""
        name = path.name
        location = self.location(relative)
        if name.startswith("."):
            yield Skipped(location, HIDDEN_FILE)
            return
        if Path(name).stem.lower() in METADATA_NAMES:
            yield Skipped(location, SOURCE_METADATA)
            return
        reason = skip_reason(path, root_real)
        if reason:
            yield Skipped(location, reason)
            return
        yield from self.read_file(path, relative)

    def read_file(self, path: Path, relative: PurePosixPath) -> Iterator[Item | Skipped]:
        location = self.location(relative)
        suffix = path.suffix.lower()
        if suffix not in MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES:
            reason = f"unsupported file type {display(suffix) or '(none)'!r}"
            yield Rejected(location, reason, self.label)
            return
        try:
            data = read_bounded(path, MAX_FILE_BYTES)
        except NotRegular as exc:
            yield Skipped(location, exc.reason)
            return
        except TooLarge as exc:
            reason = f"too large ({exc.size} bytes; the limit is {exc.limit})"
            yield Rejected(location, reason, self.label)
            return
        except OSError as exc:
            yield Rejected(location, f"unreadable: {display(exc.strerror or str(exc))}", self.label)
            return
        try:
            text = decode_text(data)
        except (UnicodeDecodeError, ValueError) as exc:
            yield Rejected(location, encoding_reason(exc), self.label, data)
            return
        if suffix in JSON_SUFFIXES:
            yield from self.from_json(text, relative, data)
        elif suffix in HTML_SUFFIXES:
            yield self.from_html(text, relative, data)
        else:
            yield self.from_markdown(text, relative, data)

    def document(
        self,
        kind: DocumentType | str,
        link: str,
        title: str,
        text: str,
        where: str,
        data: bytes,
        published: str = "",
    ) -> Item:
        problem = unicode_problem({"text": text, "link": link, "title": title, "date": published})
        if problem:
            return Rejected(where, problem, self.label, data)
        if not text.strip():
            return Rejected(where, "empty text", self.label, data)
        if not isinstance(kind, DocumentType):
            return Rejected(where, kind, self.label, data)
        return RawDocument(
            type=kind,
            link=link,
            title=title,
            content=text.strip(),
            author=self.author,
            platform="export",
            source=self.label,
            metadata={"location": where, **({"published": published} if published else {})},
        )

    def from_markdown(self, text: str, relative: PurePosixPath, data: bytes) -> Item:
        fields, body = parse_front_matter(text)
        location = self.location(relative)
        link = first_field(fields, LINK_FIELDS) or location
        title = fields.get("title") or markdown_title(body) or display(relative.stem)
        kind = choose_type(fields.get("type", ""), relative, body)
        return self.document(kind, link, title, body, location, data, fields.get("date", ""))

    def from_html(self, text: str, relative: PurePosixPath, data: bytes) -> Item:
        page = extract(text)
        location = self.location(relative)
        kind = choose_type(page.meta.get("type", ""), relative, page.text)
        title = page.title or display(relative.stem)
        return self.document(kind, page.canonical or location, title, page.text, location, data)

    def from_json(self, text: str, relative: PurePosixPath, data: bytes) -> Iterator[Item]:
        location = self.location(relative)
        too_deep = f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels"
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON: {exc.msg} at line {exc.lineno}"
            yield Rejected(location, reason, self.label, data)
            return
        except RecursionError:
            yield Rejected(location, too_deep, self.label, data)
            return
        except ValueError as exc:
            # Such as an integer of more digits than Python converts (4300 by default).
            reason = f"malformed JSON: {display(str(exc).split(';')[0])}"
            yield Rejected(location, reason, self.label, data)
            return
        if json_depth(parsed, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            yield Rejected(location, too_deep, self.label, data)
            return
        records = parsed if isinstance(parsed, list) else [parsed]
        if not records:
            yield Rejected(location, "empty text (an empty JSON list)", self.label, data)
        for index, record in enumerate(records):
            where = f"{location}#{index}" if isinstance(parsed, list) else location
            if not isinstance(record, dict):
                yield Rejected(where, "a JSON item that is not an object", self.label)
                continue
            body = first_field(record, TEXT_FIELDS)
            # backslashreplace: a lone surrogate ("\ud800" in the export) has no UTF-8 form.
            raw = json.dumps(record, ensure_ascii=False).encode("utf-8", "backslashreplace")
            problem = unicode_problem({"text": body, "link": first_field(record, LINK_FIELDS)})
            if problem:
                yield Rejected(where, problem, self.label, raw)
                continue
            link = first_field(record, LINK_FIELDS) or f"{location}#sha256:{sha256_hex(body)[:16]}"
            title = first_field(record, ("title",)) or " ".join(body.split()[:8])
            kind = choose_type(first_field(record, ("type",)), relative, body)
            published = first_field(record, ("date", "published", "created_at"))
            yield self.document(kind, link, title, body, where, raw, published)
