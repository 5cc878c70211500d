"""Chunking is a product decision: cut where a reader would pause, not every N characters.

Paragraphs are kept whole when they fit the budget; a paragraph that does not fit is split at
sentence ends; a sentence longer than the budget is the only thing ever cut mid-way. The budget
is counted by a function you pass in, so the same code works with any tokenizer (the default
counts words, which is close enough for planning).
"""

from __future__ import annotations

import re
from collections.abc import Callable

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> int:
    return len(text.split())


def chunk(text: str, budget: int = 200, count: Callable[[str], int] = words) -> list[str]:
    """Chunks of at most `budget` units (as `count` measures them), in reading order."""
    if budget < 1:
        raise ValueError("budget must be at least 1")
    pieces: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        if count(paragraph) <= budget:
            pieces.append(paragraph)
        else:
            pieces.extend(_sentences(paragraph, budget, count))
    return _pack(pieces, budget, count)


def _sentences(paragraph: str, budget: int, count: Callable[[str], int]) -> list[str]:
    out: list[str] = []
    for sentence in SENTENCE_END.split(paragraph):
        if count(sentence) <= budget:
            out.append(sentence)
            continue
        tokens = sentence.split()  # the last resort: a sentence longer than the budget
        out.extend(" ".join(tokens[i : i + budget]) for i in range(0, len(tokens), budget))
    return out


def _pack(pieces: list[str], budget: int, count: Callable[[str], int]) -> list[str]:
    """Join neighbouring pieces while they fit, so short paragraphs do not become tiny chunks."""
    chunks: list[str] = []
    for piece in pieces:
        if chunks and count(chunks[-1]) + count(piece) <= budget:
            chunks[-1] = f"{chunks[-1]}\n\n{piece}"
        else:
            chunks.append(piece)
    return chunks
