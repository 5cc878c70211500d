"""Local folders of exported writing: Markdown, plain text, HTML and JSON.

Type rule (articles vs posts), first match wins:
  1. an explicit type: `type:` in Markdown front matter, a JSON item's "type", or an HTML
     `<meta name="type">` (article/articles/post/posts);
  2. the nearest enclosing folder named `articles` or `posts` below the source folder;
  3. length: ARTICLE_MIN_WORDS words or more is an article, shorter is a post.

Every document is attributed to the run's author. Links come from the export (`link`, `url` or
`canonical_url`; a canonical <link> in HTML), else from the path as the source was written plus the
file's relative path (so ids are stable across machines), and for a JSON item without a link the
hash of its text. Hidden files and folders and README/LICENSE/COPYING files are source metadata and
are counted as skipped; anything else that cannot become a document is rejected with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from components.common.domain import Author, DocumentType, RawDocument, Rejected, sha256_hex
from components.etl.html_text import extract

ARTICLE_MIN_WORDS = 200
MAX_FILE_BYTES = 5 * 1024 * 1024
MARKDOWN_SUFFIXES = {".md", ".markdown", ".txt"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
METADATA_NAMES = {"readme", "license", "licence", "copying", "notice"}
TEXT_FIELDS = ("content", "text", "body")
LINK_FIELDS = ("link", "url", "canonical_url")
_TYPES = {
    "article": DocumentType.ARTICLES,
    "articles": DocumentType.ARTICLES,
    "post": DocumentType.POSTS,
    "posts": DocumentType.POSTS,
}

Item = RawDocument | Rejected


class Skipped(str):
    """A path deliberately not read (source metadata), reported in the counts."""


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
        self.label = label.rstrip("/") or "."
        self.author = author

    def location(self, relative: PurePosixPath) -> str:
        return f"{self.label}/{relative}" if self.label != "." else str(relative)

    def read(self) -> Iterator[Item | Skipped]:
        failures: list[OSError] = []
        # os.walk skips a folder it cannot list unless told; that would drop its files silently.
        for directory, folders, files in os.walk(self.root, onerror=failures.append):
            yield from self._unlistable(failures)
            folders[:] = sorted(f for f in folders if not f.startswith("."))
            for name in sorted(files):
                path = Path(directory) / name
                relative = PurePosixPath(path.relative_to(self.root).as_posix())
                if name.startswith(".") or Path(name).stem.lower() in METADATA_NAMES:
                    yield Skipped(self.location(relative))
                    continue
                yield from self.read_file(path, relative)
        yield from self._unlistable(failures)

    def _unlistable(self, failures: list[OSError]) -> Iterator[Rejected]:
        while failures:
            failure = failures.pop(0)
            where = Path(failure.filename or self.root).relative_to(self.root).as_posix()
            reason = f"unreadable folder: {failure.strerror or failure}"
            yield Rejected(self.location(PurePosixPath(where)), reason, self.label)

    def read_file(self, path: Path, relative: PurePosixPath) -> Iterator[Item]:
        location = self.location(relative)
        suffix = path.suffix.lower()
        if suffix not in MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES:
            yield Rejected(location, f"unsupported file type {suffix or '(none)'!r}", self.label)
            return
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                yield Rejected(location, f"too large ({size} bytes)", self.label)
                return
            data = path.read_bytes()
        except OSError as exc:
            yield Rejected(location, f"unreadable: {exc.strerror or exc}", self.label)
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
        title = fields.get("title") or markdown_title(body) or relative.stem
        kind = choose_type(fields.get("type", ""), relative, body)
        return self.document(kind, link, title, body, location, data, fields.get("date", ""))

    def from_html(self, text: str, relative: PurePosixPath, data: bytes) -> Item:
        page = extract(text)
        location = self.location(relative)
        kind = choose_type(page.meta.get("type", ""), relative, page.text)
        title = page.title or relative.stem
        return self.document(kind, page.canonical or location, title, page.text, location, data)

    def from_json(self, text: str, relative: PurePosixPath, data: bytes) -> Iterator[Item]:
        location = self.location(relative)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON: {exc.msg} at line {exc.lineno}"
            yield Rejected(location, reason, self.label, data)
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
            raw = json.dumps(record, ensure_ascii=False).encode("utf-8")
            link = first_field(record, LINK_FIELDS) or f"{location}#sha256:{sha256_hex(body)[:16]}"
            title = first_field(record, ("title",)) or " ".join(body.split()[:8])
            kind = choose_type(first_field(record, ("type",)), relative, body)
            published = first_field(record, ("date", "published", "created_at"))
            yield self.document(kind, link, title, body, where, raw, published)
