"""Token-aware chunking with the embedding model's own tokenizer.

A chunk is at most `max_tokens` tokens (the model sees 256 including [CLS] and [SEP]). Both ends
prefer natural boundaries (a sentence end for prose, a line end for code):
- the end moves back, within the last part of the window, to the last boundary there;
- the next chunk starts `overlap` tokens before the previous end, moved back to a boundary within
  another `overlap` tokens, so neighbours share between `overlap` and 2 * `overlap` tokens and a
  sentence (or line) cut at one chunk's end is whole at the next one's start. Text without
  boundaries gets exactly `overlap` shared tokens.
Chunk text is a slice of the input (by token offsets), never detokenized, so it reads as the
author wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.common.domain import DocumentType

# A cut may move back at most this far into the window looking for a natural boundary.
MIN_FILL = 0.6
_SENTENCE_ENDS = (".", "!", "?", ":", ";")


@dataclass(frozen=True)
class ChunkSpec:
    max_tokens: int
    overlap: int
    boundary: str  # "sentence" or "line"

    def __post_init__(self) -> None:
        # Twice the overlap must fit in the shortest chunk, or a start could move backwards.
        if not 0 <= 2 * self.overlap < self.max_tokens * MIN_FILL:
            raise ValueError("overlap must be under a third of max_tokens")


# Posts are short and dense: small windows. Articles: a paragraph or two. Code: whole functions,
# with little overlap because line boundaries already keep statements intact.
CHUNK_SPECS = {
    DocumentType.ARTICLES: ChunkSpec(max_tokens=240, overlap=40, boundary="sentence"),
    DocumentType.POSTS: ChunkSpec(max_tokens=128, overlap=16, boundary="sentence"),
    DocumentType.REPOSITORIES: ChunkSpec(max_tokens=250, overlap=24, boundary="line"),
}


@dataclass(frozen=True)
class TextChunk:
    text: str
    start: int  # character offsets into the input
    end: int
    first_token: int  # token indices into the input's tokens, end exclusive
    last_token: int

    @property
    def tokens(self) -> int:
        return self.last_token - self.first_token


def _is_boundary(text: str, offsets: list[tuple[int, int]], index: int, spec: ChunkSpec) -> bool:
    """Whether a cut after token `index` falls on a natural boundary."""
    end = offsets[index][1]
    following = offsets[index + 1][0] if index + 1 < len(offsets) else len(text)
    gap = text[end:following]
    if "\n" in gap:
        return True
    return spec.boundary == "sentence" and text[end - 1 : end] in _SENTENCE_ENDS and bool(gap)


def chunk_text(text: str, tokenizer: Any, spec: ChunkSpec) -> list[TextChunk]:
    offsets = [tuple(pair) for pair in tokenizer.encode(text, add_special_tokens=False).offsets]
    count = len(offsets)
    chunks: list[TextChunk] = []
    start = 0
    while start < count:
        end = min(start + spec.max_tokens, count)
        if end < count:
            shortest = start + max(spec.overlap + 1, int(spec.max_tokens * MIN_FILL))
            for cut in range(end, shortest, -1):
                if _is_boundary(text, offsets, cut - 1, spec):
                    end = cut
                    break
        first_char, last_char = offsets[start][0], offsets[end - 1][1]
        chunks.append(TextChunk(text[first_char:last_char], first_char, last_char, start, end))
        if end >= count:
            break
        start = end - spec.overlap
        for candidate in range(start, end - 2 * spec.overlap, -1):
            if _is_boundary(text, offsets, candidate - 1, spec):
                start = candidate
                break
    return chunks
