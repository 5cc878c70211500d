"""Preference pairs job: what people said about the twin's answers, as (prompt, chosen, rejected).

    python -m components.preferences [--days 90]

Reads the RAG service's answers and the people's ratings of them (`human_rating` feedback) from
Opik, or locally from the trace log's `trace` and `feedback` records, builds preference pairs
with components.dataset.preferences and writes preferences/preferences.jsonl (one pair a line,
with its provenance) and preferences/summary.json (pair count and a digest of the pairs: the
pipeline's property file, passed to training so that its cache hits exactly while the pairs did
not change). No traces source at all is not an error: zero pairs, and training skips the
preference stage.

It is a step of its own, uncached and cheap, rather than a third output of the dataset step: the
dataset step is cached on the feature store's digest (its LLM generator is the expensive part),
so feedback that arrives while the documents stay the same would never reach training.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from components.common import traces
from components.common.contract import processing_output, write_json
from components.common.job import run_job
from components.dataset.preferences import BETTER_ANSWER_COMMENT, HUMAN

PROG = "preferences"


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value if isinstance(value, str) else None


def opik_records(client: Any, project: str, since: datetime) -> list[dict[str, Any]]:
    """Opik traces rated by people as trace-log records: a `trace` and a `feedback` record each.

    Opik keeps a rating's score and reason (the comment); a better answer travels as a trace
    comment starting with BETTER_ANSWER_COMMENT, and the newest one goes with the trace's newest
    rating."""
    found = traces.search_opik(
        client, project, since, truncate=False, source=f"Opik project {project!r}"
    )
    records: list[dict[str, Any]] = []
    for item in found:
        ratings = [s for s in item.get("feedback_scores") or [] if s.get("name") == "human_rating"]
        if not ratings or not item.get("id"):
            continue
        records.append(
            {
                "kind": "trace",
                "id": str(item["id"]),
                "input": item.get("input") or {},
                "output": item.get("output") or {},
            }
        )
        feedback = [
            {
                "kind": "feedback",
                "trace_id": str(item["id"]),
                "name": score.get("name"),
                "value": score.get("value"),
                "reason": score.get("reason"),
                "source": HUMAN,
                "time": _iso(score.get("last_updated_at") or score.get("created_at")),
            }
            for score in ratings
        ]
        better = better_answer(item.get("comments") or [])
        if better:
            newest = max(feedback, key=lambda record: record["time"] or "")
            newest["better_answer"] = better
        records.extend(feedback)
    return records


def better_answer(comments: list[Any]) -> str | None:
    """The newest better answer among an Opik trace's comments, or None."""
    found = [
        (_iso(c.get("created_at")) or "", c["text"][len(BETTER_ANSWER_COMMENT) :].strip())
        for c in comments
        if isinstance(c, Mapping)
        and isinstance(c.get("text"), str)
        and c["text"].startswith(BETTER_ANSWER_COMMENT)
    ]
    found = [(when, text) for when, text in found if text]
    return max(found)[1] if found else None


def read_records(
    days: int, env: Mapping[str, str] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The records to build pairs from, and where they came from."""
    env = os.environ if env is None else env
    if traces.opik_configured(env):
        project = traces.project_name(env)
        since = datetime.now(UTC) - timedelta(days=days)
        return opik_records(traces.opik_client(env), project, since), f"Opik project {project!r}"
    path = traces.local_traces_path(env)
    if path is None:
        return [], "no traces source (neither Opik nor a local trace log is configured)"
    records, _ = traces.read_records(path)
    return records, f"local trace log {path}"


def digest(pairs: list[dict[str, Any]]) -> str:
    sha = hashlib.sha256()
    for pair in pairs:
        sha.update(json.dumps([pair["prompt"], pair["chosen"], pair["rejected"]]).encode())
    return sha.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.preferences")
    parser.add_argument(
        "--days", type=int, default=90, help="how far back to read ratings from Opik"
    )
    args = parser.parse_args(argv)

    def body() -> int:
        from components.dataset.preferences import build_pairs

        records, source = read_records(args.days)
        pairs = build_pairs(records)
        folder = processing_output("preferences")
        with (folder / "preferences.jsonl").open("w", encoding="utf-8") as handle:
            for pair in pairs:
                handle.write(json.dumps(pair, ensure_ascii=False, sort_keys=True) + "\n")
        kinds: dict[str, int] = {}
        for pair in pairs:
            kind = pair["provenance"]["kind"]
            kinds[kind] = kinds.get(kind, 0) + 1
        ratings = sum(
            1 for r in records if r.get("kind") == "feedback" and r.get("source") == "human"
        )
        summary = {
            "pairs": len(pairs),
            "digest": digest(pairs),
            "kinds": dict(sorted(kinds.items())),
            "human_ratings": ratings,
            "source": source,
        }
        write_json(folder / "summary.json", summary)
        by_kind = ", ".join(f"{n} {k}" for k, n in summary["kinds"].items()) or "none"
        print(
            f"{PROG}: {len(pairs)} preference pair(s) ({by_kind}) from {ratings} human "
            f"rating(s) in {source}",
            flush=True,
        )
        return 0

    return run_job(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
