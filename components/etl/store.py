"""Raw documents into MongoDB, idempotently, and the digest of what the store holds.

A document's `_id` derives from its type and link, and `content_hash` from what it says, so a
re-run classifies each document as inserted, updated (same link, new content) or unchanged, and
writes only the first two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

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

# Keep the bytes of a rejected input up to this size, so fixing it needs no second fetch.
MAX_QUARANTINED_BYTES = 1024 * 1024


@dataclass
class IngestCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    by_type: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
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
    for item in rejected:
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
    if writes:
        db[QUARANTINE].bulk_write(writes, ordered=False)
