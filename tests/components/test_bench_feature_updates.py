"""The corpus edits behind feature_incremental_speedup and feature_scaling
(benchmarks/feature_updates.py): one article changes per revision, copies are distinct."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.feature_updates import _edit_one_article, _replicate
from components.common.domain import DocumentType
from components.etl.__main__ import main as etl_main
from components.features.sync import build_chunks
from tests.components.conftest import Stores, make_corpus


def _hashes(db: Any) -> dict[str, str]:
    return {d["_id"]: d["content_hash"] for t in DocumentType for d in db[str(t)].find()}


def test_a_revision_changes_one_article_and_does_not_pile_up(
    stores: Stores, tmp_path: Path
) -> None:
    assert etl_main(["--sources", str(make_corpus(tmp_path / "c", 2, 2)), "--author", "Ada"]) == 0
    before = _hashes(stores.db)
    changed = _edit_one_article(stores.db, 0)
    after = _hashes(stores.db)
    assert [i for i in before if before[i] != after[i]] == [changed]
    _edit_one_article(stores.db, 1)
    content = stores.db["articles"].find_one({"_id": changed})["content"]
    assert content.count("Revision") == 1 and "Revision 1:" in content


def test_copies_have_their_own_ids_text_and_chunks(
    stores: Stores, tmp_path: Path, embedding_tokenizer: Any
) -> None:
    assert etl_main(["--sources", str(make_corpus(tmp_path / "c", 1, 2)), "--author", "Ada"]) == 0
    target = stores.db.client[f"{stores.db.name}_x3"]
    try:
        _replicate(stores.db, target, 3)
        copies = _hashes(target)
        assert len(copies) == 3 * len(_hashes(stores.db)) == len(set(copies.values()))
        chunk_ids = [
            c.id for d in target["articles"].find() for c in build_chunks(d, embedding_tokenizer)
        ]
        assert len(chunk_ids) == len(set(chunk_ids)) > 3
    finally:
        stores.db.client.drop_database(target.name)
