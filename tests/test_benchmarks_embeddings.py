"""The recall figure of benchmarks/embeddings.py: top-k sets by cosine and their overlap."""

from __future__ import annotations

import numpy as np

from benchmarks.embeddings import first_sentence, recall_at_k, top_ids


def test_recall_counts_the_shared_part_of_each_top_k() -> None:
    assert recall_at_k([{1, 2}, {3, 4}], [{1, 2}, {3, 4}]) == 1.0
    assert recall_at_k([{1, 2}, {3, 4}], [{1, 5}, {6, 7}]) == 0.25


def test_top_ids_ranks_by_cosine_of_unit_vectors() -> None:
    corpus = np.eye(4, dtype=np.float32)
    query = np.array([[0.8, 0.6, 0.0, 0.0]], dtype=np.float32)
    assert top_ids(query, corpus, k=2) == [{0, 1}]
    assert top_ids(query, corpus, k=1) == [{0}]


def test_a_query_is_the_chunks_first_sentence() -> None:
    assert first_sentence("  Chunk ids are hashes. So re-runs never duplicate.") == (
        "Chunk ids are hashes."
    )
    assert first_sentence("def main():\n    return 0") == "def main():"
    assert first_sentence("no end at all") == "no end at all"
    assert len(first_sentence("x" * 1000)) == 300
