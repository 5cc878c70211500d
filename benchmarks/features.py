"""Feature stage: chunks/s from MongoDB to Qdrant, against raw `model.encode` on the same chunks
(target >= 0.9 of it) and against a baseline that embeds in batches of 10 and upserts in batches
of 4 (the reference implementation's settings), side by side in one run.

The corpus is data/sample ingested by the ETL into a SecantusDB server; every measurement starts
from an empty local Qdrant store, so each embeds every chunk. Rounds alternate the three and
each keeps its best, so a burst of load from elsewhere on the machine hits them alike.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.report import bench_line
from components.common import embeddings, mongo, qdrant
from components.common.domain import DocumentType
from components.common.settings import mongo_settings, qdrant_settings
from components.etl.__main__ import run as run_etl
from components.features.sync import FeatureSync, build_chunks
from sm_pipelines.local.services import mongodb_server

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3
BASELINE_EMBED_BATCH = 10
BASELINE_UPSERT_BATCH = 4


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def sample_corpus(prefix: str) -> Iterator[tuple[Path, Any]]:
    """A work folder and the MongoDB database holding data/sample as the ETL ingests it (a
    SecantusDB server in the folder, gone afterwards)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        workdir = Path(directory)
        with (
            mongodb_server(workdir / "mongodb") as uri,
            _environment(
                {"MONGODB_URI": uri, "MONGODB_DATABASE": "bench", "QDRANT_COLLECTION_PREFIX": ""}
            ),
        ):
            run_etl("data/sample", "Ada Twin", 10.0, ROOT)
            db = mongo.connect(mongo_settings())
            try:
                yield workdir, db
            finally:
                db.client.close()


def _fresh_store(workdir: Path, name: str) -> Any:
    os.environ["QDRANT_PATH"] = str(workdir / name)
    settings = qdrant_settings()
    return settings, qdrant.connect(settings)


def _stage(db: Any, workdir: Path, name: str, tokenizer: Any, model: Any) -> float:
    settings, client = _fresh_store(workdir, name)
    try:
        sync = FeatureSync(db, client, settings, tokenizer, lambda t: embeddings.encode(model, t))
        report = sync.run()
    finally:
        client.close()
    return report.chunks_embedded / report.seconds


def _baseline(db: Any, workdir: Path, name: str, tokenizer: Any, model: Any) -> float:
    """The same work the reference way: embed 10 at a time, upsert 4 at a time, in turn."""
    settings, client = _fresh_store(workdir, name)
    try:
        sync = FeatureSync(db, client, settings, tokenizer, lambda t: None)
        started = time.perf_counter()
        sync.ensure_collections()
        chunks = [
            chunk
            for doc_type in DocumentType
            for document in db[str(doc_type)].find()
            for chunk in build_chunks(document, tokenizer)
        ]
        for start in range(0, len(chunks), BASELINE_EMBED_BATCH):
            group = chunks[start : start + BASELINE_EMBED_BATCH]
            vectors = embeddings.encode(model, [c.text for c in group], BASELINE_EMBED_BATCH)
            for offset in range(0, len(group), BASELINE_UPSERT_BATCH):
                part = slice(offset, offset + BASELINE_UPSERT_BATCH)
                sync.upsert_chunks(group[part], vectors[part])
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return len(chunks) / elapsed


def _raw_encode(texts: list[str], model: Any) -> float:
    started = time.perf_counter()
    embeddings.encode(model, texts)
    return len(texts) / (time.perf_counter() - started)


def run() -> list[str]:
    with sample_corpus("bench-features-") as (workdir, db):
        tokenizer, model = embeddings.load_tokenizer(), embeddings.load_model()
        texts = [
            chunk.text
            for doc_type in DocumentType
            for document in db[str(doc_type)].find()
            for chunk in build_chunks(document, tokenizer)
        ]
        embeddings.encode(model, texts[:32])  # warm-up: first calls pay for lazy init
        raw, stage, baseline = [], [], []
        for index in range(ROUNDS):
            raw.append(_raw_encode(texts, model))
            stage.append(_stage(db, workdir, f"stage-{index}", tokenizer, model))
            baseline.append(_baseline(db, workdir, f"baseline-{index}", tokenizer, model))
    return [
        bench_line("feature_vs_encode", max(stage) / max(raw), "ratio", ">=", 0.9),
        bench_line("feature_vs_baseline", max(stage) / max(baseline), "x", ">=", 1),
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
