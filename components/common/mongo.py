"""The MongoDB database of raw documents, from MONGODB_URI (Atlas in AWS, any wire-compatible
server locally: the code cannot tell and must not care)."""

from __future__ import annotations

import re

from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError, PyMongoError

from components.common.domain import DocumentType, sha256_hex
from components.common.job import JobError
from components.common.settings import MongoSettings

_CREDENTIALS = re.compile(r"(?<=://)[^/@]+@")


def redact(uri: str) -> str:
    """The URI without user:password, for messages."""
    return _CREDENTIALS.sub("***@", uri)


def connect(settings: MongoSettings, timeout_ms: int = 10_000) -> Database:
    """The configured database, after checking the server answers (fail fast, one line)."""
    options: dict[str, object] = {"appname": "llm-twin", "tz_aware": True}
    # Keyword options beat the URI's own, so a timeout set in MONGODB_URI must not be overridden.
    if "serverselectiontimeoutms" not in settings.uri.lower():
        options["serverSelectionTimeoutMS"] = timeout_ms
    try:
        client: MongoClient = MongoClient(settings.uri, **options)
    except (ConfigurationError, ValueError, TypeError) as exc:
        raise JobError(f"MONGODB_URI is not a usable MongoDB URI: {exc}") from None
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        client.close()
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise JobError(
            f"MongoDB at {redact(settings.uri)} is unreachable: {first_line[:200]}"
        ) from None
    return client[settings.database]


def raw_digest(db: Database) -> tuple[str, dict[str, int]]:
    """SHA-256 over every raw document's (type, id, content hash), and the count per type."""
    lines, totals = [], {}
    for doc_type in DocumentType:
        rows = db[str(doc_type)].find({}, {"_id": 1, "content_hash": 1}).sort("_id", 1)
        entries = [f"{doc_type}\t{row['_id']}\t{row.get('content_hash', '')}" for row in rows]
        totals[str(doc_type)] = len(entries)
        lines.extend(entries)
    return sha256_hex("\n".join(lines)), totals
