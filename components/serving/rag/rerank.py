"""De-duplication and reranking of retrieved chunks.

No cross-encoder ships in an installable package here (and none may be fetched at run time), so
the reranker is a documented scorer:

    rank_score = 0.7 * vector_score + 0.3 * lexical_overlap

vector_score is the cosine similarity from Qdrant (the best one over the expanded queries);
lexical_overlap is the share of the query's content words (function words dropped, plurals and
-ing/-ed folded) that the chunk contains. The bi-encoder alone ranks a chunk that is "about the
same topic" next to one that answers the question; the exact words a person asked about are what
separates them, which is what a cross-encoder would learn. With no content words in the query
the vector score decides alone.

De-duplication: the same chunk id found by several queries or collections is kept once (its best
score), and so is the same text under different ids (a repost, a file copied across repos).
"""

from __future__ import annotations

import re

from components.common.text_terms import content_terms
from components.serving.rag.retrieval import Hit

VECTOR_WEIGHT = 0.7
LEXICAL_WEIGHT = 0.3
DESCRIPTION = f"blend {VECTOR_WEIGHT} vector + {LEXICAL_WEIGHT} lexical overlap"


def lexical_overlap(query_terms: set[str], text: str) -> float:
    if not query_terms:
        return 0.0
    return len(query_terms & content_terms(text)) / len(query_terms)


def _text_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def deduplicate(hits: list[Hit]) -> list[Hit]:
    by_id: dict[str, Hit] = {}
    for hit in hits:
        kept = by_id.get(hit.id)
        if kept is None:
            by_id[hit.id] = hit
            continue
        kept.queries |= hit.queries
        kept.score = max(kept.score, hit.score)
    by_text: dict[str, Hit] = {}
    for hit in sorted(by_id.values(), key=lambda h: (-h.score, h.id)):
        by_text.setdefault(_text_key(hit.content), hit)
    return list(by_text.values())


def rerank(query: str, hits: list[Hit]) -> list[Hit]:
    """`hits` scored and sorted best first (ties broken by id, so the order is stable)."""
    terms = content_terms(query)
    weight = LEXICAL_WEIGHT if terms else 0.0
    for hit in hits:
        hit.lexical = lexical_overlap(terms, hit.content)
        hit.rank_score = (1 - weight) * hit.score + weight * hit.lexical
    return sorted(hits, key=lambda h: (-h.rank_score, h.id))
