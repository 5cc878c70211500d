"""The shared vocabulary of the data jobs: document types, ids, authors and raw documents.

Ids are content-addressed: a UUID derived from a SHA-256 of what identifies the thing (a
document's link, a chunk's content), so every re-run lands on the same ids and never duplicates.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DocumentType(StrEnum):
    ARTICLES = "articles"
    POSTS = "posts"
    REPOSITORIES = "repositories"


USERS = "users"
QUARANTINE = "quarantine"


def stable_id(*parts: str) -> str:
    """A UUID (as Qdrant and MongoDB both accept) derived from the SHA-256 of `parts`."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def canonical_hash(value: Any) -> str:
    """SHA-256 of a JSON value in canonical form (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_hex(text)


@dataclass(frozen=True)
class Author:
    full_name: str

    @property
    def id(self) -> str:
        return stable_id("user", " ".join(self.full_name.lower().split()))

    def record(self) -> dict[str, Any]:
        first, _, last = self.full_name.strip().partition(" ")
        return {
            "_id": self.id,
            "full_name": self.full_name.strip(),
            "first_name": first,
            "last_name": last.strip(),
        }


@dataclass
class RawDocument:
    """One article, post or repository, as ETL stores it in MongoDB.

    `content` is the text of an article or post, or a list of {"path", "text"} for a repository.
    """

    type: DocumentType
    link: str
    title: str
    content: str | list[dict[str, str]]
    author: Author
    platform: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return stable_id(str(self.type), self.link)

    @property
    def content_hash(self) -> str:
        # Everything later stages read, so a change to any of it re-runs them; metadata (commit,
        # skipped files, dates) is informational and must not.
        return canonical_hash(
            {
                "title": self.title,
                "content": self.content,
                "link": self.link,
                "author": self.author.full_name,
            }
        )

    def record(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "type": str(self.type),
            "link": self.link,
            "title": self.title,
            "content": self.content,
            "author_id": self.author.id,
            "author_full_name": self.author.full_name,
            "platform": self.platform,
            "source": self.source,
            "metadata": self.metadata,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True)
class Rejected:
    """An input that could not become a document, kept in `quarantine` with the reason."""

    location: str
    reason: str
    source: str
    raw: bytes | None = None

    @property
    def id(self) -> str:
        return stable_id("quarantine", self.location)
