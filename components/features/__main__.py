"""Features job: clean, chunk and embed the raw documents into the Qdrant feature store.

    python -m components.features --raw-digest <digest from etl's snapshot.json>

Incremental: only documents whose content changed since the last run are re-chunked, and only
chunks the store does not hold yet are embedded. EMBEDDING_RUNTIME (torch, the default, or
onnx-int8) picks how the model runs; it is part of the feature version, so switching it
re-embeds every chunk. Writes snapshot.json with the digest of the
feature store's state, which the dataset step takes as its cache key.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from components.common.contract import processing_output, write_json
from components.common.job import JobError, run_job

PROG = "features"


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected 1 or more")
    return value


class LazyEncoder:
    """Loads the model on the first call: a run with nothing to embed skips torch entirely."""

    def __init__(self, batch_size: int, runtime: str) -> None:
        self.batch_size = batch_size
        self.runtime = runtime
        self.model: Any = None

    def __call__(self, texts: list[str]) -> Any:
        from components.common import embeddings

        if self.model is None:
            self.model = embeddings.load_model(self.runtime)
        return embeddings.encode(self.model, texts, self.batch_size)


def run(raw_digest: str, batch_size: int) -> dict[str, Any]:
    from components.common import embeddings, mongo, qdrant
    from components.common.featurestore import feature_digest, read_records
    from components.common.settings import mongo_settings, qdrant_settings
    from components.features.sync import FeatureSync, feature_version

    runtime = embeddings.embedding_runtime()
    version = feature_version(runtime)
    db = mongo.connect(mongo_settings())
    settings = qdrant_settings()
    held, _ = mongo.raw_digest(db)
    if held != raw_digest:
        raise JobError(
            f"MongoDB holds raw documents at digest {held[:12]}, not {raw_digest[:12]} as this "
            "step was given: another ETL run changed the store since; run the pipeline again"
        )
    client = qdrant.connect(settings)
    try:
        sync = FeatureSync(
            db,
            client,
            settings,
            embeddings.load_tokenizer(),
            LazyEncoder(batch_size, runtime),
            encode_group=batch_size,
            version=version,
        )
        report = sync.run()
        digest = feature_digest(read_records(client, settings))
    finally:
        client.close()
    return {
        "digest": digest,
        "raw_digest": raw_digest,
        "feature_version": version,
        "embedding_runtime": runtime,
        "documents": report.documents,
        "changed": report.changed,
        "removed": report.removed,
        "chunks_embedded": report.chunks_embedded,
        "chunks_deleted": report.chunks_deleted,
        "chunks": report.chunks_total,
        "seconds": round(report.seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    from components.common.embeddings import DEFAULT_BATCH_SIZE

    parser = argparse.ArgumentParser(prog="components.features")
    parser.add_argument("--raw-digest", required=True, help="digest from etl's snapshot.json")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    args = parser.parse_args(argv)

    def body() -> int:
        if len(args.raw_digest) != 64 or any(c not in "0123456789abcdef" for c in args.raw_digest):
            raise JobError(f"--raw-digest {args.raw_digest!r}: expected a SHA-256 hex digest")
        snapshot = run(args.raw_digest, args.batch_size)
        write_json(processing_output("snapshot") / "snapshot.json", snapshot)
        print(
            f"{PROG}: {snapshot['changed']} changed, {snapshot['removed']} removed, "
            f"{snapshot['documents'] - snapshot['changed']} unchanged documents; "
            f"{snapshot['chunks_embedded']} chunks embedded, {snapshot['chunks_deleted']} deleted; "
            f"store holds {snapshot['chunks']} chunks; digest {snapshot['digest'][:12]}",
            flush=True,
        )
        return 0

    return run_job(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
