"""Cleaning and token-aware chunking with the embedding model's own tokenizer."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from components.common.domain import DocumentType
from components.common.embeddings import MAX_SEQUENCE_TOKENS
from components.features.chunking import CHUNK_SPECS, ChunkSpec, chunk_text
from components.features.cleaning import clean_code, clean_prose


def token_count(tokenizer: Any, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def test_without_boundaries_chunks_are_full_and_overlap_exactly(embedding_tokenizer: Any) -> None:
    text = " ".join(f"token{n % 7}" for n in range(600))
    spec = ChunkSpec(max_tokens=100, overlap=20, boundary="sentence")
    chunks = chunk_text(text, embedding_tokenizer, spec)
    total = token_count(embedding_tokenizer, text)
    assert chunks[0].first_token == 0 and chunks[-1].last_token == total
    for before, after in itertools.pairwise(chunks):
        assert before.tokens == 100
        assert before.last_token - after.first_token == 20
    assert all(chunk.text == text[chunk.start : chunk.end] for chunk in chunks)


def test_prose_cuts_at_sentence_ends_and_restarts_at_sentence_starts(
    embedding_tokenizer: Any,
) -> None:
    sentences = [
        f"Sentence number {n} talks about chunk overlap and boundaries." for n in range(80)
    ]
    text = " ".join(sentences)
    spec = ChunkSpec(max_tokens=120, overlap=24, boundary="sentence")
    chunks = chunk_text(text, embedding_tokenizer, spec)
    assert len(chunks) > 3
    for before, after in itertools.pairwise(chunks):
        assert before.tokens <= 120
        assert before.text.endswith("boundaries.")  # ends at a sentence end
        assert after.text.startswith("Sentence number")  # starts at a sentence start
        shared = before.last_token - after.first_token
        assert 24 <= shared <= 48
        assert text[after.start : before.end] in before.text and text[after.start : before.end]
    # Every token is in some chunk, and the last chunk reaches the end.
    assert chunks[-1].text.endswith(sentences[-1])


def test_code_chunks_start_and_end_on_line_boundaries(embedding_tokenizer: Any) -> None:
    lines = [f"def function_{n}(value: int) -> int:\n    return value * {n}\n" for n in range(60)]
    code = clean_code("\n".join(lines))
    spec = CHUNK_SPECS[DocumentType.REPOSITORIES]
    chunks = chunk_text(code, embedding_tokenizer, spec)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.tokens <= spec.max_tokens
        assert chunk.start == 0 or code[chunk.start - 1] == "\n"
        assert chunk.end == len(code) or code[chunk.end] == "\n"


def test_short_text_is_one_chunk_and_empty_text_none(embedding_tokenizer: Any) -> None:
    spec = CHUNK_SPECS[DocumentType.POSTS]
    (only,) = chunk_text("A short post.", embedding_tokenizer, spec)
    assert (only.text, only.first_token) == ("A short post.", 0)
    assert chunk_text("", embedding_tokenizer, spec) == []


def test_every_spec_fits_the_model_with_special_tokens() -> None:
    for spec in CHUNK_SPECS.values():
        assert spec.max_tokens + 2 <= MAX_SEQUENCE_TOKENS
    with pytest.raises(ValueError, match="overlap"):
        ChunkSpec(max_tokens=100, overlap=40, boundary="sentence")


def test_clean_prose_unwraps_paragraphs_and_drops_markup() -> None:
    text = (
        "# Title\n\nA **bold** claim with a [link](https://x.example) and\nan image "
        "![diagram](d.png) wrapped.\n\n- item one\n- item two\n\n<div>html</div> \U0001f680 done"
    )
    assert clean_prose(text) == (
        "Title\n\nA bold claim with a link and an image diagram wrapped.\n\n"
        "item one item two\n\nhtml done"
    )


def test_clean_code_keeps_layout() -> None:
    code = "import os\r\n\r\n\r\ndef f():  \n\treturn 1\x07\n"
    assert clean_code(code) == "import os\n\n\ndef f():\n\treturn 1"
