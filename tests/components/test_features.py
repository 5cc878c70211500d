"""The feature stage against a real MongoDB wire server and a real local Qdrant store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.common import mongo, qdrant
from components.common.featurestore import feature_digest, read_records
from components.common.settings import mongo_settings, qdrant_settings
from components.etl.__main__ import main as etl_main
from components.features.sync import FeatureSync, SyncReport
from tests.components.conftest import SpyEncoder, Stores, make_corpus


def ingest(folder: Path) -> None:
    assert etl_main(["--sources", str(folder), "--author", "Ada Twin"]) == 0


def sync(tokenizer: Any, encoder: SpyEncoder) -> tuple[SyncReport, dict[str, Any]]:
    """One feature run; the state of the store after it (ids per collection, records, digest)."""
    settings = qdrant_settings()
    client = qdrant.connect(settings)
    try:
        report = FeatureSync(
            mongo.connect(mongo_settings()), client, settings, tokenizer, encoder
        ).run()
        state: dict[str, Any] = {"records": read_records(client, settings)}
        state["digest"] = feature_digest(state["records"])
        for collection in client.get_collections().collections:
            points, _ = client.scroll(collection.name, limit=10_000, with_vectors=True)
            state[collection.name] = points
    finally:
        client.close()
    return report, state


def test_rerun_embeds_nothing_and_duplicates_nothing(
    stores: Stores, tmp_path: Path, embedding_tokenizer: Any, encoder: SpyEncoder
) -> None:
    ingest(make_corpus(tmp_path / "corpus", articles=2, posts=2))
    first, state = sync(embedding_tokenizer, encoder)
    assert (first.documents, first.changed, first.removed) == (4, 4, 0)
    assert first.chunks_embedded == first.chunks_total == len(encoder.seen) > 4
    for kind in ("articles", "posts"):
        cleaned, embedded = state[f"cleaned_{kind}"], state[f"embedded_{kind}"]
        assert sorted(p.id for p in cleaned) == sorted(p.id for p in embedded)
        assert len({p.id for p in embedded}) == len(embedded)
        for point in embedded:
            vector = np.asarray(point.vector)
            assert vector.shape == (384,) and abs(np.linalg.norm(vector) - 1) < 1e-4
            assert point.payload["author_full_name"] == "Ada Twin"
            assert point.payload["type"] == kind
        assert all(not p.vector for p in cleaned)
    assert state["embedded_repositories"] == []
    assert len(state["records"]) == 4

    encoder.seen.clear()
    second, again = sync(embedding_tokenizer, encoder)
    assert (second.changed, second.chunks_embedded, second.chunks_deleted) == (0, 0, 0)
    assert encoder.seen == []
    assert again["digest"] == state["digest"]
    assert second.chunks_total == first.chunks_total


def test_only_the_changed_document_is_re_embedded(
    stores: Stores, tmp_path: Path, embedding_tokenizer: Any, encoder: SpyEncoder
) -> None:
    corpus = make_corpus(tmp_path / "corpus", articles=2, posts=2)
    ingest(corpus)
    _, before = sync(embedding_tokenizer, encoder)
    article = corpus / "articles" / "article-1.md"
    article.write_text(article.read_text() + "\nA new closing paragraph about incremental runs.\n")
    ingest(corpus)
    changed_id = stores.db.articles.find_one({"title": "Article 1"})["_id"]

    encoder.seen.clear()
    report, after = sync(embedding_tokenizer, encoder)
    assert (report.changed, report.changed_ids) == (1, [changed_id])
    # Only chunks of that article were embedded, and only those its old version did not have.
    old_ids = set(before["records"][changed_id]["chunk_ids"])
    new_ids = set(after["records"][changed_id]["chunk_ids"])
    assert 0 < report.chunks_embedded == len(new_ids - old_ids) < len(new_ids)
    assert report.chunks_deleted == len(old_ids - new_ids) > 0
    assert encoder.seen and all(
        "article 1" in text or "incremental" in text for text in encoder.seen
    )
    # The store holds exactly the new chunk set for that article: nothing stale, nothing twice.
    held = Counter(p.payload["document_id"] for p in after["embedded_articles"])
    assert held[changed_id] == len(new_ids)
    assert {
        p.id for p in after["embedded_articles"] if p.payload["document_id"] == changed_id
    } == new_ids
    untouched = [d for d in before["records"] if d != changed_id]
    assert all(before["records"][d] == after["records"][d] for d in untouched)
    assert after["digest"] != before["digest"]


def test_a_document_gone_from_mongodb_loses_its_chunks(
    stores: Stores, tmp_path: Path, embedding_tokenizer: Any, encoder: SpyEncoder
) -> None:
    ingest(make_corpus(tmp_path / "corpus", articles=1, posts=2))
    sync(embedding_tokenizer, encoder)
    gone = stores.db.posts.find_one({"title": "post-0"})["_id"]
    stores.db.posts.delete_one({"_id": gone})
    report, state = sync(embedding_tokenizer, encoder)
    assert (report.removed, report.chunks_deleted) == (1, 1)
    assert gone not in state["records"]
    assert all(p.payload["document_id"] != gone for p in state["embedded_posts"])
    assert len(state["cleaned_posts"]) == 1


def test_repository_chunks_carry_their_path_and_prefix_names_collections(
    stores: Stores, tmp_path: Path, embedding_tokenizer: Any, encoder: SpyEncoder, monkeypatch
) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "main.py").write_text("def main() -> int:\n    return 0\n")
    assert etl_main(["--sources", f"git:{folder}", "--author", "Ada Twin"]) == 0
    monkeypatch.setenv("QDRANT_COLLECTION_PREFIX", "staging_")
    report, state = sync(embedding_tokenizer, encoder)
    assert report.chunks_embedded == 1
    (point,) = state["staging_embedded_repositories"]
    assert point.payload["path"] == "main.py" and point.payload["content"].startswith("def main")
    assert "embedded_repositories" not in state
    expected = {
        f"staging_{kind}_{t}"
        for kind in ("cleaned", "embedded")
        for t in ("articles", "posts", "repositories")
    }
    assert {name for name in state if name.startswith("staging_")} == {
        *expected,
        "staging_feature_documents",
    }


def test_a_locked_store_is_a_one_line_error(stores: Stores) -> None:
    from components.common.job import JobError

    holder = stores.qdrant()
    try:
        with pytest.raises(JobError, match=r"^Qdrant at path .* is unavailable: "):
            qdrant.connect(qdrant_settings())
    finally:
        holder.close()


def test_a_failed_write_stops_embedding_and_surfaces(
    stores: Stores, tmp_path: Path, embedding_tokenizer: Any, monkeypatch
) -> None:
    ingest(make_corpus(tmp_path / "corpus", articles=3, posts=0))
    calls: list[int] = []

    def encode(texts: list[str]) -> Any:
        calls.append(len(texts))
        return np.zeros((len(texts), 384), dtype=np.float32)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    settings = qdrant_settings()
    client = qdrant.connect(settings)
    try:
        sync = FeatureSync(
            mongo.connect(mongo_settings()),
            client,
            settings,
            embedding_tokenizer,
            encode,
            encode_group=2,
        )
        monkeypatch.setattr(sync, "upsert_chunks", refuse)
        with pytest.raises(OSError, match="disk full"):
            sync.run()
        assert read_records(client, settings) == {}  # nothing is recorded as done
    finally:
        client.close()
    # The worker stopped after at most the groups already queued, not after every chunk.
    assert len(calls) <= 4 and sum(calls) < 10


def test_the_model_gets_one_batch_per_call_in_token_order(
    stores: Stores, embedding_tokenizer: Any
) -> None:
    """Batches are formed here, by token count: model.encode would re-sort by characters, which
    orders the sample's prose and code differently."""
    ingest(Path(__file__).resolve().parents[2] / "data" / "sample")
    groups: list[list[str]] = []

    def encode(texts: list[str]) -> Any:
        groups.append(list(texts))
        return np.zeros((len(texts), 384), dtype=np.float32)

    settings = qdrant_settings()
    client = qdrant.connect(settings)
    try:
        FeatureSync(
            mongo.connect(mongo_settings()),
            client,
            settings,
            embedding_tokenizer,
            encode,
            encode_group=3,
        ).run()
    finally:
        client.close()
    assert len(groups) > 2 and all(len(g) == 3 for g in groups[:-1])
    counts = [len(embedding_tokenizer.encode(text).ids) for group in groups for text in group]
    assert counts == sorted(counts, reverse=True)
