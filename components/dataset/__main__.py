"""Dataset job: instruction/answer pairs from the cleaned chunks, split into train and test.

    python -m components.dataset --features-digest <digest from features' snapshot.json>

Reads every chunk of the `cleaned_<type>` collections, writes train/train.jsonl and
test/test.jsonl (rows with "instruction" and "answer", plus provenance). An OpenAI-compatible LLM
writes the instructions when LLM_API_BASE and LLM_API_KEY are set; otherwise a deterministic
offline generator does.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from components.common.contract import processing_output
from components.common.job import JobError, run_job

PROG = "dataset"


def fraction(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a number between 0 and 1")
    return value


def build(chunks: list[dict[str, Any]], test_fraction: float, seed: int) -> dict[str, Any]:
    from components.common.settings import llm_settings
    from components.dataset.generate import make_pair, offline_instruction
    from components.dataset.split import filter_pairs, split_pairs

    settings = llm_settings()
    fallbacks = 0
    if settings is None:
        generator = "offline"
        pairs = [make_pair(chunk, offline_instruction(chunk), generator) for chunk in chunks]
    else:
        from components.dataset.llm import LLMInstructionWriter

        generator = f"llm:{settings.model}"
        writer = LLMInstructionWriter(settings)
        written = writer.instructions(chunks)
        fallbacks = writer.fallbacks
        pairs = [
            make_pair(chunk, text, generator)
            if text
            else make_pair(chunk, offline_instruction(chunk), "offline")
            for chunk, text in zip(chunks, written, strict=True)
        ]
    kept, dropped = filter_pairs(pairs)
    train, test = split_pairs(kept, test_fraction, seed)
    return {
        "generator": generator,
        "fallbacks": fallbacks,
        "chunks": len(chunks),
        "dropped": dict(sorted(dropped.items())),
        "train": train,
        "test": test,
    }


def read_chunks(features_digest: str) -> list[dict[str, Any]]:
    from components.common import qdrant
    from components.common.featurestore import feature_digest, read_cleaned_chunks, read_records
    from components.common.settings import qdrant_settings

    settings = qdrant_settings()
    client = qdrant.connect(settings)
    try:
        held = feature_digest(read_records(client, settings))
        if held != features_digest:
            raise JobError(
                f"the feature store is at digest {held[:12]}, not {features_digest[:12]} as this "
                "step was given (a cached features result from before the store changed); run "
                "the features step again without its cache"
            )
        chunks = read_cleaned_chunks(client, settings)
    finally:
        client.close()
    if not chunks:
        raise JobError("the feature store holds no cleaned chunks: run the features step first")
    return chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.dataset")
    parser.add_argument("--features-digest", required=True, help="from features' snapshot.json")
    parser.add_argument("--test-fraction", type=fraction, default=0.2)
    parser.add_argument("--seed", type=int, default=42, help="decides which rows are test rows")
    args = parser.parse_args(argv)

    def body() -> int:
        from components.dataset.split import write_jsonl

        result = build(read_chunks(args.features_digest), args.test_fraction, args.seed)
        write_jsonl(processing_output("train") / "train.jsonl", result["train"])
        write_jsonl(processing_output("test") / "test.jsonl", result["test"])
        dropped = ", ".join(f"{n} {why}" for why, n in result["dropped"].items()) or "none"
        print(
            f"{PROG}: {len(result['train'])} train / {len(result['test'])} test pairs from "
            f"{result['chunks']} chunks ({result['generator']}, {result['fallbacks']} fallbacks); "
            f"dropped: {dropped}",
            flush=True,
        )
        return 0

    return run_job(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
