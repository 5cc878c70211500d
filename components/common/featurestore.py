"""The feature store in Qdrant, as the features job writes it and the dataset job reads it.

Per document type: `cleaned_<type>` (chunk payloads, no vectors) and `embedded_<type>` (the same
chunk ids with 384-d vectors). `feature_documents` keeps one record per embedded document: its
content hash, the feature version and its chunk ids. That record is written last, so it is what
"this document is done" means, and it lives in Qdrant so the state can never outlive the vectors.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient

from components.common.domain import DocumentType, sha256_hex
from components.common.qdrant import cleaned_collection
from components.common.settings import QdrantSettings

RECORDS = "feature_documents"
SCROLL_PAGE = 1024


def records_collection(settings: QdrantSettings) -> str:
    return f"{settings.prefix}{RECORDS}"


def scroll_payloads(
    client: QdrantClient, collection: str, fields: list[str] | bool = True
) -> list[tuple[str, dict[str, Any]]]:
    """Every point's (id, payload) in `collection`; empty when the collection does not exist."""
    if not client.collection_exists(collection):
        return []
    found, offset = [], None
    while True:
        points, offset = client.scroll(
            collection, limit=SCROLL_PAGE, offset=offset, with_payload=fields, with_vectors=False
        )
        found.extend((str(point.id), point.payload or {}) for point in points)
        if offset is None:
            return found


def read_records(client: QdrantClient, settings: QdrantSettings) -> dict[str, dict[str, Any]]:
    return {
        payload["document_id"]: payload
        for _, payload in scroll_payloads(client, records_collection(settings))
        if "document_id" in payload
    }


def feature_digest(records: dict[str, dict[str, Any]]) -> str:
    """SHA-256 of the store's state: each document's hash, feature version and chunk ids."""
    lines = [
        "\t".join(
            [
                document_id,
                str(record.get("document_hash", "")),
                str(record.get("feature_version", "")),
                ",".join(sorted(record.get("chunk_ids", []))),
            ]
        )
        for document_id, record in sorted(records.items())
    ]
    return sha256_hex("\n".join(lines))


def read_cleaned_chunks(client: QdrantClient, settings: QdrantSettings) -> list[dict[str, Any]]:
    """Every cleaned chunk's payload with its id, ordered by id so readers are deterministic."""
    chunks = []
    for doc_type in DocumentType:
        for point_id, payload in scroll_payloads(client, cleaned_collection(settings, doc_type)):
            chunks.append({**payload, "id": point_id})
    return sorted(chunks, key=lambda chunk: chunk["id"])
