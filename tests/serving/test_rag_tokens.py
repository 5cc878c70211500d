"""The generator's token counter: which tokenizer, loaded once, one line when it cannot load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.common.job import JobError
from components.serving.rag.tokens import generator_counter, tokenizer_source


def test_the_source_is_the_configured_tokenizer_then_the_base_model_then_local_smollm2() -> None:
    assert tokenizer_source({"RAG_TOKENIZER": "/m/tok", "BASE_MODEL_ID": "org/base"}) == "/m/tok"
    assert tokenizer_source({"BASE_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct"}) == (
        "meta-llama/Llama-3.1-8B-Instruct"
    )
    assert tokenizer_source({"RAG_TOKENIZER": "  "}) is None


def test_the_local_counter_is_smollm2_loaded_once(generator_tokens: Any) -> None:
    assert generator_tokens.name == "SmolLM2-135M-Instruct"
    assert generator_counter({}) is generator_tokens  # cached per process and source
    assert generator_tokens.count("Blue/green deploys") > 0


def test_a_saved_tokenizer_folder_is_used_as_is(tmp_path: Path, generator_tokens: Any) -> None:
    from transformers import AutoTokenizer

    from components.common import base_model

    gguf = base_model.gguf_path()
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tmp_path)
    counter = generator_counter({"RAG_TOKENIZER": str(tmp_path)})
    assert counter.name == str(tmp_path)
    text = "Keep the previous model warm; rehearse the rollback."
    assert counter.count(text) == generator_tokens.count(text)


def test_an_unloadable_tokenizer_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(JobError, match=r"cannot load the generator.s tokenizer .*RAG_TOKENIZER"):
        generator_counter({"RAG_TOKENIZER": str(tmp_path / "missing")})
