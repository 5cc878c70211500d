"""The opt-in int8 ONNX embedding runtime against fp32 torch, side by side in one run:
- embed_onnx_vs_torch: chunks/s of the sample corpus' chunks at the features job's batch size,
  int8 ONNX over torch (target >= 1.5). Rounds alternate the two and each keeps its best, so a
  burst of load from elsewhere on the machine hits both alike.
- embed_onnx_recall_at_10: for each chunk, its first sentence is a query; the ten chunks it
  retrieves (cosine, brute force, as the local Qdrant store ranks) with queries and chunks both
  embedded by ONNX, against the ten with both embedded by torch, averaged over the queries
  (target >= 0.95): the runtime is kept only while this holds. Chunks are embedded in the
  features job's batches, queries one at a time as the RAG service embeds them (the int8
  runtime's vectors depend a little on their batch neighbours).
The int8 model is exported into the cache before timing starts (a first run pays a few seconds).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from benchmarks.report import bench_line
from components.common import embeddings
from components.common.domain import Author
from components.etl.__main__ import read_sources
from components.etl.sources import parse_sources
from components.features.sync import build_chunks

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5
TOP_K = 10
_SENTENCE = re.compile(r"(.+?[.!?:;])(\s|$)", re.DOTALL)


def sample_chunk_texts() -> list[str]:
    documents, _, _ = read_sources(
        parse_sources("data/sample", ROOT), ROOT, Author("Ada Twin"), 5.0
    )
    tokenizer = embeddings.load_tokenizer()
    return [c.text for d in documents for c in build_chunks(d.record(), tokenizer)]


def first_sentence(text: str, limit: int = 300) -> str:
    found = _SENTENCE.match(text.strip())
    return (found.group(1) if found else text.strip())[:limit]


def top_ids(queries: Any, corpus: Any, k: int = TOP_K) -> list[set[int]]:
    scores = queries @ corpus.T  # unit vectors: the dot product is the cosine
    return [set(row.argsort()[::-1][:k].tolist()) for row in scores]


def recall_at_k(reference: list[set[int]], candidate: list[set[int]]) -> float:
    return sum(len(r & c) / len(r) for r, c in zip(reference, candidate, strict=True)) / len(
        reference
    )


def one_by_one(model: Any, queries: list[str]) -> Any:
    import numpy as np

    return np.concatenate([embeddings.encode(model, [query]) for query in queries])


def _throughput(model: Any, texts: list[str]) -> float:
    started = time.perf_counter()
    embeddings.encode(model, texts)
    return len(texts) / (time.perf_counter() - started)


def run() -> list[str]:
    texts = sample_chunk_texts()
    queries = [first_sentence(t) for t in texts]
    torch_model = embeddings.load_model("torch")
    onnx_model = embeddings.load_model("onnx-int8")
    for model in (torch_model, onnx_model):
        embeddings.encode(model, texts[:16])  # warm-up: first calls pay for lazy init
    torch_rates, onnx_rates = [], []
    for _ in range(ROUNDS):
        torch_rates.append(_throughput(torch_model, texts))
        onnx_rates.append(_throughput(onnx_model, texts))
    reference = top_ids(one_by_one(torch_model, queries), embeddings.encode(torch_model, texts))
    candidate = top_ids(one_by_one(onnx_model, queries), embeddings.encode(onnx_model, texts))
    return [
        bench_line("embed_onnx_vs_torch", max(onnx_rates) / max(torch_rates), "x", ">=", 1.5),
        bench_line(
            "embed_onnx_recall_at_10", recall_at_k(reference, candidate), "ratio", ">=", 0.95
        ),
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
