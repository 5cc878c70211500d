"""Preference pairs (prompt, chosen, rejected) from what people said about answers.

Read from the trace log's records (components/common/traces.py): `feedback` records with source
`human` (POST /feedback on the RAG service) and the `trace` records they rate. Two kinds:
  - an answer rated down (value < 0.5) that came with a better_answer: chosen is the better
    answer, rejected the answer given;
  - two rated answers to the same question (whitespace- and case-folded) with different
    scores: chosen the higher-rated one.
Each pair keeps its provenance (trace ids, scores, feedback times) and an id from its content,
so rebuilding never duplicates. The preferences step (components/preferences) writes them for
the training step's DPO stage (components/train/dpo.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

HUMAN = "human"
# In Opik a better answer travels as a trace comment with this prefix (feedback scores keep a
# value and a reason only): the RAG service writes it, components.preferences reads it back.
BETTER_ANSWER_COMMENT = "better answer: "
RATED_DOWN = 0.5


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _pair(prompt: str, chosen: str, rejected: str, provenance: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps([prompt, chosen, rejected]).encode()).hexdigest()[:16]
    return {
        "id": digest,
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "provenance": provenance,
    }


def build_pairs(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    traces: dict[str, dict[str, str]] = {}
    ratings: dict[str, dict[str, Any]] = {}  # trace id -> latest human feedback
    for record in records:
        if record.get("kind") == "trace" and isinstance(record.get("id"), str):
            query = (record.get("input") or {}).get("query")
            answer = (record.get("output") or {}).get("answer")
            if isinstance(query, str) and isinstance(answer, str):
                traces[record["id"]] = {"query": query, "answer": answer}
        elif (
            record.get("kind") == "feedback"
            and record.get("source") == HUMAN
            and isinstance(record.get("trace_id"), str)
            and isinstance(record.get("value"), int | float)
        ):
            ratings[record["trace_id"]] = record
    pairs: dict[str, dict[str, Any]] = {}
    rated: dict[str, list[tuple[float, str, dict[str, str], dict[str, Any]]]] = {}
    for trace_id, feedback in sorted(ratings.items()):
        about = traces.get(trace_id) or {
            "query": feedback.get("query"),
            "answer": feedback.get("answer"),
        }
        if not isinstance(about.get("query"), str) or not isinstance(about.get("answer"), str):
            continue
        value = float(feedback["value"])
        better = feedback.get("better_answer")
        if (
            value < RATED_DOWN
            and isinstance(better, str)
            and better.strip()
            and better.strip() != about["answer"].strip()
        ):
            pair = _pair(
                about["query"],
                better,
                about["answer"],
                {
                    "kind": "better_answer",
                    "trace_id": trace_id,
                    "score": value,
                    "feedback_time": feedback.get("time"),
                    "comment": feedback.get("reason"),
                },
            )
            pairs[pair["id"]] = pair
        rated.setdefault(_key(about["query"]), []).append((value, trace_id, about, feedback))
    for answers in rated.values():
        answers.sort(key=lambda item: (-item[0], item[1]))
        best, worst = answers[0], answers[-1]
        if best[0] > worst[0] and best[2]["answer"].strip() != worst[2]["answer"].strip():
            pair = _pair(
                best[2]["query"],
                best[2]["answer"],
                worst[2]["answer"],
                {
                    "kind": "rated_answers",
                    "chosen_trace_id": best[1],
                    "rejected_trace_id": worst[1],
                    "chosen_score": best[0],
                    "rejected_score": worst[0],
                },
            )
            pairs[pair["id"]] = pair
    return sorted(pairs.values(), key=lambda p: p["id"])
