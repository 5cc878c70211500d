"""The Qdrant vector store: a server from QDRANT_URL (+ API key) or a local store at QDRANT_PATH.

Collection names carry QDRANT_COLLECTION_PREFIX so environments can share one cluster.
"""

from __future__ import annotations

import warnings

from qdrant_client import QdrantClient, models

from components.common.domain import DocumentType
from components.common.job import JobError
from components.common.settings import QdrantSettings

EMBEDDING_DIMENSION = 384
INDEXED_FIELDS = ("author_id", "type", "document_id")


def connect(settings: QdrantSettings, timeout: int = 60) -> QdrantClient:
    try:
        if settings.url:
            client = QdrantClient(url=settings.url, api_key=settings.api_key, timeout=timeout)
            client.get_collections()
            return client
        return QdrantClient(path=settings.path)
    except Exception as exc:
        where = settings.url or f"path {settings.path}"
        # A local store is locked by the process that has it open (only one may), which is the
        # most common failure here; its message says so.
        raise JobError(f"Qdrant at {where} is unavailable: {str(exc).splitlines()[0]}") from None


def is_local(client: QdrantClient) -> bool:
    return type(client._client).__name__ == "QdrantLocal"


def cleaned_collection(settings: QdrantSettings, doc_type: DocumentType | str) -> str:
    return f"{settings.prefix}cleaned_{doc_type}"


def embedded_collection(settings: QdrantSettings, doc_type: DocumentType | str) -> str:
    return f"{settings.prefix}embedded_{doc_type}"


def ensure_collection(client: QdrantClient, name: str, with_vectors: bool) -> None:
    """Create `name` if missing: 384-d cosine vectors, or payload only."""
    if client.collection_exists(name):
        return
    vectors = (
        models.VectorParams(size=EMBEDDING_DIMENSION, distance=models.Distance.COSINE)
        if with_vectors
        else {}
    )
    client.create_collection(name, vectors_config=vectors)
    if is_local(client):
        # The local store has no payload indexes (it scans); creating one only warns.
        return
    for field in INDEXED_FIELDS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)
