"""RAG serving: retrieval latency at 10k chunks, and what tracing costs a request.

retrieval_p50_ms / retrieval_p95_ms: one query vector (precomputed, so the model is not timed)
searched the way the service searches: every embedded_<type> collection, filtered by author,
12 candidates each. 10k chunks (6k articles, 3k posts, 1k repositories; 95% by the twin's
author) in a local Qdrant store, which is brute force. A minority author falls back to the
filtered scan there (about 5x slower); a Qdrant server answers both from its payload index.

tracing_overhead: the same requests (embed, retrieve, rerank, prompt, generate against a stub
model server on loopback) through two services that differ only in the tracer, one tracing to
the local trace log and one built with OPIK_TRACK_DISABLE=true, interleaved so that load from
elsewhere hits both alike; the median ratio of paired latencies. tracing_overhead_opik is the same
with traces sent to a stub Opik server on loopback through the SDK.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import bench_line

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"articles": 6000, "posts": 3000, "repositories": 1000}
QUERIES = 100
ROUNDS = 10
QUESTIONS = (
    "How do you roll out a new model version safely?",
    "Why should chunk size depend on the document type?",
    "What makes an ETL job idempotent?",
    "How do you keep spot training from losing work?",
    "When is a small model good enough?",
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(q * len(ordered))) - 1)]


def _retrieval(workdir: Path) -> list[str]:
    from qdrant_client import QdrantClient, models

    from components.common.domain import Author
    from components.common.qdrant import ensure_collection
    from components.common.settings import QdrantSettings
    from components.serving.rag.retrieval import Retriever

    rng = np.random.default_rng(7)
    client = QdrantClient(":memory:")
    authors = [Author("Ada Twin"), Author("Guest Writer")]
    for doc_type, count in SIZES.items():
        name = f"embedded_{doc_type}"
        ensure_collection(client, name, True)
        vectors = rng.standard_normal((count, 384)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for start in range(0, count, 1000):
            points = []
            for i in range(start, min(count, start + 1000)):
                author = authors[1] if i % 20 == 0 else authors[0]
                payload = {
                    "author_id": author.id,
                    "author_full_name": author.full_name,
                    "type": doc_type,
                    "title": f"{doc_type} {i}",
                    "content": "lorem ipsum " * 40,
                }
                points.append(
                    models.PointStruct(id=str(uuid.uuid4()), vector=vectors[i], payload=payload)
                )
            client.upsert(name, points=points, wait=True)
    retriever = Retriever(client, QdrantSettings(None, ":memory:", None, ""))
    queries = rng.standard_normal((QUERIES + 10, 384)).astype("float32")
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    timings = []
    for index, vector in enumerate(queries):
        started = time.perf_counter()
        hits = retriever.search(vector.tolist(), "Ada Twin", 12)
        elapsed = (time.perf_counter() - started) * 1000
        assert len(hits) == 36
        if index >= 10:  # the first queries warm numpy and the collections cache
            timings.append(elapsed)
    client.close()
    return [
        bench_line("retrieval_p95_ms", _percentile(timings, 0.95), "ms", "<=", 50),
        bench_line("retrieval_p50_ms", statistics.median(timings), "ms", "<=", 50),
    ]


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, data: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Model(_Quiet):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(200, json.dumps([{"generated_text": "Ship it behind a flag."}]).encode())


class _Opik(_Quiet):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(204)


def _serve(stack: ExitStack, handler: type[BaseHTTPRequestHandler]) -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    return f"http://127.0.0.1:{server.server_address[1]}"


def _corpus(path: Path, model: Any) -> None:
    from qdrant_client import QdrantClient, models

    from components.common import embeddings
    from components.common.domain import Author, stable_id
    from components.common.qdrant import ensure_collection

    paragraphs = []
    for article in sorted((ROOT / "data/sample/articles").glob("*.md")):
        text = article.read_text(encoding="utf-8")
        paragraphs += [p.strip() for p in text.split("\n\n") if len(p.strip()) > 200]
    paragraphs = paragraphs[:60]
    client = QdrantClient(path=str(path))
    ensure_collection(client, "embedded_articles", True)
    author = Author("Ada Twin")
    vectors = embeddings.encode(model, paragraphs)
    client.upsert(
        "embedded_articles",
        points=[
            models.PointStruct(
                id=stable_id("bench", text),
                vector=vector.tolist(),
                payload={
                    "author_id": author.id,
                    "author_full_name": author.full_name,
                    "type": "articles",
                    "title": text[:40],
                    "content": text,
                },
            )
            for text, vector in zip(paragraphs, vectors, strict=True)
        ],
        wait=True,
    )
    client.close()


def _overhead(workdir: Path) -> list[str]:
    import os

    from qdrant_client import QdrantClient

    from components.common import embeddings, traces
    from components.common.settings import QdrantSettings
    from components.serving.rag.config import rag_settings
    from components.serving.rag.generator import EndpointGenerator
    from components.serving.rag.retrieval import Retriever
    from components.serving.rag.service import RagService
    from components.serving.rag.tracing import tracer_from_env

    traces.prepare_opik()
    model, tokenizer = embeddings.load_model(), embeddings.load_tokenizer()
    store = workdir / "qdrant"
    _corpus(store, model)
    lines = []
    with ExitStack() as stack:
        model_url = _serve(stack, _Model)
        opik_url = _serve(stack, _Opik) + "/api"
        base = {
            "SAGEMAKER_ENDPOINT_NAME": "bench",
            "SAGEMAKER_RUNTIME_URL": model_url,
            "LLM_TWIN_TRACES_FILE": str(workdir / "traces.jsonl"),
        }
        client = QdrantClient(path=str(store))
        stack.callback(client.close)
        retriever = Retriever(client, QdrantSettings(None, str(store), None, ""))

        def service(**env: str) -> RagService:
            settings = rag_settings(base)
            built = RagService(
                settings,
                retriever,
                lambda texts: embeddings.encode(model, texts),
                lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids),
                EndpointGenerator("bench", model_url, None, 30.0),
                tracer_from_env({**base, **env}),
            )
            stack.callback(built.tracer.close)
            return built

        off = service(OPIK_TRACK_DISABLE="true")
        for name, traced in (
            ("tracing_overhead", service()),
            ("tracing_overhead_opik", service(OPIK_URL_OVERRIDE=opik_url)),
        ):
            lines.append(bench_line(name, _ratio(traced, off), "ratio", "<=", 1.05))
        os.environ.pop("OPIK_URL_OVERRIDE", None)
    return lines


def _ratio(traced: Any, untraced: Any) -> float:
    """Median over adjacent pairs (same question, order alternating) of traced / untraced time:
    a burst of load from elsewhere slows both requests of a pair, so it cancels out."""
    ratios = []
    for _ in range(2):  # warm-up: model kernels per input length, store, connections
        for question in QUESTIONS:
            traced.answer(question)
            untraced.answer(question)
    for round_ in range(ROUNDS):
        for question in QUESTIONS:
            timed = {}
            for service in (traced, untraced) if round_ % 2 == 0 else (untraced, traced):
                started = time.perf_counter()
                service.answer(question)
                timed[id(service)] = time.perf_counter() - started
            ratios.append(timed[id(traced)] / timed[id(untraced)])
    traced.tracer.flush(30)
    return statistics.median(ratios)


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        workdir = Path(folder)
        return _retrieval(workdir) + _overhead(workdir)


if __name__ == "__main__":
    for line in run():
        print(line)
