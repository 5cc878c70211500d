"""Retrieval from the feature store's embedded_<type> collections, filtered by author.

The author filter uses `author_id` (indexed on a Qdrant server), derived from the name exactly as
ETL derives it, so "ada  twin" finds "Ada Twin". A local store (QDRANT_PATH) has no payload
index: it checks a filter in Python on every point, ~7x the cost of the unfiltered brute-force
search. There the search runs unfiltered over a larger pool and keeps the author's hits; since
the ranking is the same, the author's best `limit` hits are exactly those when the pool holds at
least `limit` of them, and only otherwise does the filtered search run. A filtered search that
finds nothing in any collection means the author has no chunks at all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models

from components.common.domain import Author, DocumentType
from components.common.qdrant import embedded_collection, is_local
from components.common.settings import QdrantSettings

# Pool of the unfiltered local search, as a multiple of the hits wanted.
LOCAL_OVERSAMPLE = 4
COLLECTIONS_TTL_SECONDS = 30.0


@dataclass
class Hit:
    id: str
    collection: str
    score: float
    payload: dict[str, Any]
    lexical: float = 0.0
    rank_score: float = 0.0
    queries: set[int] = field(default_factory=set)

    @property
    def content(self) -> str:
        return str(self.payload.get("content", ""))

    @property
    def type(self) -> str:
        return str(self.payload.get("type", ""))

    @property
    def author(self) -> str:
        return str(self.payload.get("author_full_name", ""))


def author_id(name: str) -> str:
    return Author(name).id


class Retriever:
    """Qdrant access for the service; one lock, since a local store is not thread-safe."""

    def __init__(self, client: QdrantClient, settings: QdrantSettings) -> None:
        self.client = client
        self.settings = settings
        self.local = is_local(client)
        self._lock = threading.Lock()
        self._collections: tuple[float, list[str]] | None = None

    def collections(self) -> list[str]:
        """The embedded_<type> collections that exist (re-checked every 30 s: a pipeline run
        may create one while the service runs)."""
        now = time.monotonic()
        if self._collections and now - self._collections[0] < COLLECTIONS_TTL_SECONDS:
            return self._collections[1]
        with self._lock:
            found = [
                name
                for doc_type in DocumentType
                if self.client.collection_exists(
                    name := embedded_collection(self.settings, doc_type)
                )
            ]
        self._collections = (now, found)
        return found

    def search(self, vector: list[float], author: str | None, limit: int) -> list[Hit]:
        """The best `limit` hits of each collection for one query vector."""
        hits: list[Hit] = []
        for name in self.collections():
            hits.extend(self.search_collection(name, vector, author, limit))
        return hits

    def search_collection(
        self, name: str, vector: list[float], author: str | None, limit: int
    ) -> list[Hit]:
        wanted = author_id(author) if author else None
        if wanted is not None and self.local:
            pool = self._query(name, vector, None, limit * LOCAL_OVERSAMPLE)
            mine = [hit for hit in pool if hit.payload.get("author_id") == wanted]
            if len(mine) >= limit or len(pool) < limit * LOCAL_OVERSAMPLE:
                return mine[:limit]
        return self._query(name, vector, wanted, limit)

    def _query(self, name: str, vector: list[float], wanted: str | None, limit: int) -> list[Hit]:
        selector = None
        if wanted is not None:
            selector = models.Filter(
                must=[models.FieldCondition(key="author_id", match=models.MatchValue(value=wanted))]
            )
        with self._lock:
            response = self.client.query_points(
                name, query=vector, query_filter=selector, limit=limit, with_payload=True
            )
        return [
            Hit(
                id=str(point.id),
                collection=name,
                score=float(point.score),
                payload=point.payload or {},
            )
            for point in response.points
        ]

    def known_authors(self, limit: int = 10, scan: int = 5000) -> list[str]:
        """Some authors the store holds, for an error message (scans at most `scan` points per
        collection, so a large store answers quickly)."""
        names: set[str] = set()
        for name in self.collections():
            offset = None
            seen = 0
            while seen < scan and len(names) < limit:
                with self._lock:
                    points, offset = self.client.scroll(
                        name,
                        limit=min(1024, scan - seen),
                        offset=offset,
                        with_payload=["author_full_name"],
                        with_vectors=False,
                    )
                seen += len(points)
                names.update(
                    str(p.payload["author_full_name"])
                    for p in points
                    if p.payload and p.payload.get("author_full_name")
                )
                if offset is None:
                    break
        return sorted(names)[:limit]

    def close(self) -> None:
        with self._lock:
            self.client.close()
