"""Bring the feature store in line with MongoDB, touching only what changed.

1. Compare each raw document's content hash with its record in `feature_documents`; documents
   with no record, another hash or another feature version are re-chunked.
2. A re-chunked document's chunk ids are content hashes (uuid of its id, the feature version and
   the chunk's payload), so chunks it already had keep their ids: only new ids are embedded and
   upserted, ids it no longer has are deleted. Documents gone from MongoDB lose their chunks.
3. Embedding runs in a worker thread (torch releases the GIL) while this thread upserts the
   previous batch, so Qdrant writes hide behind the model; Qdrant is only used from this thread.
4. Records are written last: a run that dies half way redoes the unfinished documents.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database
from qdrant_client import QdrantClient, models

from components.common.domain import DocumentType, canonical_hash, stable_id
from components.common.embeddings import DEFAULT_BATCH_SIZE, MODEL_NAME
from components.common.featurestore import read_records, records_collection
from components.common.qdrant import cleaned_collection, embedded_collection, ensure_collection
from components.common.settings import QdrantSettings
from components.features.chunking import CHUNK_SPECS, chunk_text
from components.features.cleaning import CLEANING_VERSION, clean_code, clean_prose


def feature_version(runtime: str = "torch") -> str:
    """What the stored features depend on. Another embedding runtime writes other vectors, so it
    is another version (every chunk is re-embedded); the default runtime adds nothing, so stores
    written before runtimes existed stay current."""
    basis: dict[str, Any] = {
        "model": MODEL_NAME,
        "cleaning": CLEANING_VERSION,
        "chunking": {str(t): vars(spec) for t, spec in CHUNK_SPECS.items()},
    }
    if runtime != "torch":
        basis["runtime"] = runtime
    return canonical_hash(basis)[:16]


FEATURE_VERSION = feature_version()
# Texts handed to the model per call: one model batch, so the batches are the ones this module
# forms. Chunks are sorted by their token count (known from chunking) rather than by characters,
# as model.encode sorts: on the sample's chunks that pads 13,516 tokens instead of 14,948 at
# batches of 8 (attention's square: 16% less), and the stage embedded faster than a single
# model.encode call of the same chunks. Writes of one group overlap the embedding of the next.
ENCODE_GROUP = DEFAULT_BATCH_SIZE
UPSERT_BATCH = 256
DOCUMENT_FIELDS = ("author_id", "author_full_name", "link", "title", "platform")

EmbedFn = Callable[[list[str]], Any]


@dataclass(frozen=True)
class Chunk:
    id: str
    type: DocumentType
    document_id: str
    payload: dict[str, Any]

    @property
    def text(self) -> str:
        return self.payload["content"]


@dataclass
class SyncReport:
    documents: int = 0
    changed: int = 0
    removed: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    changed_ids: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.documents - self.changed


def build_chunks(
    document: dict[str, Any], tokenizer: Any, version: str = FEATURE_VERSION
) -> list[Chunk]:
    """The cleaned chunks of one raw document, with content-hash ids, in reading order."""
    doc_type = DocumentType(document["type"])
    spec = CHUNK_SPECS[doc_type]
    base = {key: document.get(key, "") for key in DOCUMENT_FIELDS}
    base.update(document_id=document["_id"], type=str(doc_type))
    if doc_type == DocumentType.REPOSITORIES:
        pieces = [(f["path"], clean_code(f["text"])) for f in document.get("content") or []]
    else:
        pieces = [(None, clean_prose(str(document.get("content") or "")))]
    chunks: dict[str, Chunk] = {}
    for path, text in pieces:
        for piece in chunk_text(text, tokenizer, spec):
            payload = {**base, "content": piece.text, "tokens": piece.tokens}
            if path is not None:
                payload["path"] = path
            chunk_id = stable_id("chunk", version, canonical_hash(payload))
            chunks.setdefault(chunk_id, Chunk(chunk_id, doc_type, document["_id"], payload))
    return list(chunks.values())


class FeatureSync:
    def __init__(
        self,
        db: Database,
        client: QdrantClient,
        settings: QdrantSettings,
        tokenizer: Any,
        embed: EmbedFn,
        upsert_batch: int = UPSERT_BATCH,
        encode_group: int = ENCODE_GROUP,
        version: str = FEATURE_VERSION,
    ) -> None:
        self.db = db
        self.client = client
        self.settings = settings
        self.tokenizer = tokenizer
        self.embed = embed
        self.upsert_batch = upsert_batch
        self.encode_group = encode_group
        self.version = version

    # -- plan -------------------------------------------------------------------------------
    def ensure_collections(self) -> None:
        for doc_type in DocumentType:
            ensure_collection(self.client, cleaned_collection(self.settings, doc_type), False)
            ensure_collection(self.client, embedded_collection(self.settings, doc_type), True)
        ensure_collection(self.client, records_collection(self.settings), False)

    def current_hashes(self) -> dict[str, tuple[DocumentType, str]]:
        hashes = {}
        for doc_type in DocumentType:
            for row in self.db[str(doc_type)].find({}, {"_id": 1, "content_hash": 1}):
                hashes[row["_id"]] = (doc_type, row.get("content_hash", ""))
        return hashes

    def existing_chunk_ids(
        self, record: dict[str, Any] | None, doc_type: DocumentType, document_id: str
    ) -> set[str]:
        if record is not None:
            return set(record.get("chunk_ids", []))
        # No record: a first run, or one that died before writing it; ask the collections.
        selector = models.Filter(
            must=[
                models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))
            ]
        )
        ids: set[str] = set()
        for name in (
            cleaned_collection(self.settings, doc_type),
            embedded_collection(self.settings, doc_type),
        ):
            offset = None
            while True:
                points, offset = self.client.scroll(
                    name,
                    scroll_filter=selector,
                    limit=1024,
                    offset=offset,
                    with_payload=False,
                    with_vectors=False,
                )
                ids.update(str(p.id) for p in points)
                if offset is None:
                    break
        return ids

    def load_documents(self, ids_by_type: dict[DocumentType, list[str]]) -> Iterator[dict]:
        for doc_type, ids in ids_by_type.items():
            for start in range(0, len(ids), 200):
                yield from self.db[str(doc_type)].find({"_id": {"$in": ids[start : start + 200]}})

    # -- write ------------------------------------------------------------------------------
    def delete_points(self, doc_type: DocumentType, ids: list[str]) -> None:
        for start in range(0, len(ids), self.upsert_batch):
            selector = models.PointIdsList(points=ids[start : start + self.upsert_batch])
            for name in (
                cleaned_collection(self.settings, doc_type),
                embedded_collection(self.settings, doc_type),
            ):
                self.client.delete(name, points_selector=selector, wait=True)

    def upsert_chunks(self, chunks: list[Chunk], vectors: Any) -> None:
        for doc_type in DocumentType:
            picked = [(c, v) for c, v in zip(chunks, vectors, strict=True) if c.type == doc_type]
            for start in range(0, len(picked), self.upsert_batch):
                batch = picked[start : start + self.upsert_batch]
                self.client.upsert(
                    cleaned_collection(self.settings, doc_type),
                    points=[
                        models.PointStruct(id=c.id, vector={}, payload=c.payload) for c, _ in batch
                    ],
                    wait=True,
                )
                self.client.upsert(
                    embedded_collection(self.settings, doc_type),
                    points=[
                        models.PointStruct(id=c.id, vector=v.tolist(), payload=c.payload)
                        for c, v in batch
                    ],
                    wait=True,
                )

    def embed_and_write(self, chunks: list[Chunk]) -> float:
        """Embed `chunks` in a worker thread and upsert each group here as it arrives."""
        # Most tokens first: groups of similar length pad least.
        ordered = sorted(chunks, key=lambda c: (-c.payload["tokens"], c.id))
        groups = [
            ordered[i : i + self.encode_group] for i in range(0, len(ordered), self.encode_group)
        ]
        results: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        embed_time = [0.0]

        def worker() -> None:
            try:
                for group in groups:
                    if stop.is_set():
                        return
                    started = time.perf_counter()
                    vectors = self.embed([c.text for c in group])
                    embed_time[0] += time.perf_counter() - started
                    results.put((group, vectors))
                results.put(None)
            except BaseException as exc:  # handed to the main thread, which re-raises it
                results.put(exc)

        thread = threading.Thread(target=worker, name="features-embed", daemon=True)
        thread.start()
        try:
            while True:
                item = results.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                self.upsert_chunks(*item)
        finally:
            # On a write failure the worker may be blocked on the full queue: tell it to stop
            # and drain the queue so it ends after the group it is on.
            stop.set()
            while thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    results.get(timeout=0.1)
        return embed_time[0]

    def write_records(self, records: list[dict[str, Any]]) -> None:
        name = records_collection(self.settings)
        for start in range(0, len(records), self.upsert_batch):
            batch = records[start : start + self.upsert_batch]
            points = [models.PointStruct(id=r["document_id"], vector={}, payload=r) for r in batch]
            self.client.upsert(name, points=points, wait=True)

    # -- run --------------------------------------------------------------------------------
    def run(self) -> SyncReport:
        started = time.perf_counter()
        report = SyncReport()
        self.ensure_collections()
        current = self.current_hashes()
        records = read_records(self.client, self.settings)
        report.documents = len(current)

        for document_id, record in records.items():
            if document_id not in current:
                report.removed += 1
                stale = list(record.get("chunk_ids", []))
                self.delete_points(DocumentType(record["type"]), stale)
                self.client.delete(
                    records_collection(self.settings),
                    points_selector=models.PointIdsList(points=[document_id]),
                )
                report.chunks_deleted += len(stale)

        changed: dict[DocumentType, list[str]] = {}
        for document_id, (doc_type, content_hash) in sorted(current.items()):
            record = records.get(document_id)
            if (
                record is None
                or record.get("document_hash") != content_hash
                or record.get("feature_version") != self.version
            ):
                changed.setdefault(doc_type, []).append(document_id)
        to_write: list[Chunk] = []
        stale_by_type: dict[DocumentType, list[str]] = {}
        new_records = []
        for document in self.load_documents(changed):
            doc_type = DocumentType(document["type"])
            chunks = build_chunks(document, self.tokenizer, self.version)
            new_ids = [c.id for c in chunks]
            old_ids = self.existing_chunk_ids(
                records.get(document["_id"]), doc_type, document["_id"]
            )
            to_write.extend(c for c in chunks if c.id not in old_ids)
            stale_by_type.setdefault(doc_type, []).extend(sorted(old_ids - set(new_ids)))
            new_records.append(
                {
                    "document_id": document["_id"],
                    "type": str(doc_type),
                    "document_hash": document.get("content_hash", ""),
                    "feature_version": self.version,
                    "chunk_ids": new_ids,
                }
            )
            report.changed += 1
            report.changed_ids.append(document["_id"])

        if to_write:
            report.embed_seconds = self.embed_and_write(to_write)
        for doc_type, stale in stale_by_type.items():
            self.delete_points(doc_type, stale)
            report.chunks_deleted += len(stale)
        self.write_records(new_records)
        report.chunks_embedded = len(to_write)
        report.chunks_total = sum(
            self.client.count(embedded_collection(self.settings, t), exact=True).count
            for t in DocumentType
        )
        report.seconds = time.perf_counter() - started
        return report
