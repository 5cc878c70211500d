"""Raw documents into MongoDB, idempotently, and the digest of what the store holds.

A document's `_id` derives from its type and link, and `content_hash` from what it says, so a
re-run classifies each document as inserted, updated (same link, new content) or unchanged, and
writes only the first two.

Every input the readers produced is counted exactly once: stored (inserted, updated or
unchanged), quarantined or skipped, so `inputs == stored + quarantined + skipped` always holds. A
document MongoDB cannot hold (not encodable as BSON, over its 16 MiB limit) is quarantined on its
own before the batch is written, so it cannot fail the write of the others.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import bson
from bson import Binary
from pymongo import UpdateOne
from pymongo.database import Database

from components.common.domain import (
    QUARANTINE,
    USERS,
    Author,
    DocumentType,
    RawDocument,
    Rejected,
    sha256_hex,
)
from components.etl.files import display, error_line

# Keep the bytes of a rejected input up to this size, so fixing it needs no second fetch.
MAX_QUARANTINED_BYTES = 1024 * 1024
# MongoDB refuses a document over 16 MiB; leave room for the update that carries it.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 64 * 1024


@dataclass
class IngestCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    inputs: int = 0
    by_type: Counter = field(default_factory=Counter)
    skipped_reasons: Counter = field(default_factory=Counter)
    quarantined_reasons: Counter = field(default_factory=Counter)

    @property
    def stored(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons[reason] += 1

    def as_dict(self) -> dict[str, object]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "inputs": self.inputs,
            "stored": self.stored,
            "skipped_reasons": dict(sorted(self.skipped_reasons.items())),
            "quarantined_reasons": dict(sorted(self.quarantined_reasons.items())),
        }


def ensure_user(db: Database, author: Author) -> None:
    record = author.record()
    db[USERS].update_one({"_id": record.pop("_id")}, {"$set": record}, upsert=True)


def dedupe(
    documents: list[RawDocument], counts: IngestCounts
) -> tuple[list[RawDocument], list[Rejected]]:
    """One document per id: an identical repeat counts as unchanged, a conflicting one is
    rejected (the first one read wins, so the outcome does not depend on timing)."""
    first: dict[str, RawDocument] = {}
    rejected = []
    for document in documents:
        seen = first.get(document.id)
        if seen is None:
            first[document.id] = document
        elif seen.content_hash == document.content_hash:
            counts.unchanged += 1
        else:
            where = document.metadata.get("location", document.link)
            rejected.append(
                Rejected(
                    str(where),
                    f"duplicate link {document.link!r} with other content than "
                    f"{seen.metadata.get('location', seen.link)}",
                    document.source,
                )
            )
    return list(first.values()), rejected


def storable(documents: list[RawDocument]) -> tuple[list[RawDocument], list[Rejected]]:
    """The documents MongoDB can hold, and a rejection for each one it cannot. Run it first:
    ids and hashes (dedupe, ingest) need text that encodes."""
    kept, rejected = [], []
    for document in documents:
        try:
            size = len(bson.encode(document.record()))
            reason = (
                f"cannot be stored: {size} bytes as BSON; MongoDB's limit is {MAX_DOCUMENT_BYTES}"
                if size > MAX_DOCUMENT_BYTES
                else ""
            )
        except Exception as exc:  # InvalidDocument, UnicodeEncodeError, OverflowError...
            reason = f"cannot be stored: {error_line(exc)}"
        if reason:
            where = document.metadata.get("location", document.link)
            rejected.append(Rejected(display(str(where)), reason, display(document.source)))
        else:
            kept.append(document)
    return kept, rejected


def ingest(db: Database, documents: list[RawDocument], counts: IngestCounts) -> None:
    now = datetime.now(UTC)
    for doc_type in DocumentType:
        batch = [d for d in documents if d.type == doc_type]
        if not batch:
            continue
        collection = db[str(doc_type)]
        known = {
            row["_id"]: row.get("content_hash")
            for row in collection.find(
                {"_id": {"$in": [d.id for d in batch]}}, {"_id": 1, "content_hash": 1}
            )
        }
        writes = []
        for document in batch:
            counts.by_type[str(doc_type)] += 1
            if known.get(document.id) == document.content_hash:
                counts.unchanged += 1
                continue
            if document.id in known:
                counts.updated += 1
            else:
                counts.inserted += 1
            record = document.record()
            writes.append(
                UpdateOne(
                    {"_id": record.pop("_id")},
                    {"$set": {**record, "updated_at": now}, "$setOnInsert": {"ingested_at": now}},
                    upsert=True,
                )
            )
        if writes:
            collection.bulk_write(writes, ordered=False)
    # An input that now reads cleanly is no longer quarantined.
    locations = [str(d.metadata.get("location", d.link)) for d in documents]
    if locations:
        db[QUARANTINE].delete_many({"location": {"$in": locations}})


def quarantine(db: Database, rejected: list[Rejected], counts: IngestCounts) -> None:
    now = datetime.now(UTC)
    writes = []
    for given in rejected:
        # Readers already give valid UTF-8; `display` keeps one odd string from failing them all.
        item = replace(
            given,
            location=display(given.location),
            reason=display(given.reason),
            source=display(given.source),
        )
        fields: dict[str, object] = {
            "location": item.location,
            "reason": item.reason,
            "source": item.source,
            "last_seen": now,
        }
        if item.raw is not None:
            fields["size"] = len(item.raw)
            fields["sha256"] = sha256_hex(item.raw)
            if len(item.raw) <= MAX_QUARANTINED_BYTES:
                fields["raw"] = Binary(item.raw)
        writes.append(
            UpdateOne(
                {"_id": item.id},
                {"$set": fields, "$setOnInsert": {"first_seen": now}, "$inc": {"attempts": 1}},
                upsert=True,
            )
        )
    counts.quarantined += len(rejected)
    counts.quarantined_reasons.update(display(item.reason) for item in rejected)
    if writes:
        db[QUARANTINE].bulk_write(writes, ordered=False)
