"""Feedback on answers (issue 17): POST /feedback validation, the local feedback record, the
Opik feedback-score payload, and the preference pairs built from a trace log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from opik.rest_api.types.trace_public import TracePublic

from components.dataset.preferences import BETTER_ANSWER_COMMENT, build_pairs
from components.serving.rag.app import create_app
from components.serving.rag.feedback import FeedbackItem
from components.serving.rag.tracing import OpikSink


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_feedback_is_validated_and_recorded_in_the_trace_log(
    make_service: Any, tmp_path: Path
) -> None:
    service = make_service()
    client = TestClient(create_app(service, close_on_shutdown=False))
    answered = client.post("/rag", json={"query": "How do you replace a model?"}).json()
    trace_id = answered["trace_id"]

    ok = client.post(
        "/feedback",
        json={
            "trace_id": trace_id,
            "score": "down",
            "comment": "too vague",
            "better_answer": "Ship it blue/green and keep the old config for a rollback.",
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"trace_id": trace_id, "name": "human_rating", "value": 0.0, "queued": True}
    assert client.post("/feedback", json={"trace_id": trace_id, "score": 0.8}).status_code == 200

    unknown = client.post("/feedback", json={"trace_id": "0190-nope", "score": 1})
    assert unknown.status_code == 404 and "unknown trace_id" in unknown.json()["detail"]
    for bad in (1.5, -0.1, "sideways", True):
        answer = client.post("/feedback", json={"trace_id": trace_id, "score": bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert "score" in answer.json()["detail"]
    missing = client.post("/feedback", json={"score": 1})
    assert missing.status_code == 422 and "trace_id" in missing.json()["detail"]
    extra = client.post("/feedback", json={"trace_id": trace_id, "score": 1, "stars": 5})
    assert extra.status_code == 422

    assert service.tracer.flush(5)
    feedback = [r for r in _records(tmp_path / "traces.jsonl") if r["kind"] == "feedback"]
    assert [(f["trace_id"], f["value"], f["source"]) for f in feedback] == [
        (trace_id, 0.0, "human"),
        (trace_id, 0.8, "human"),
    ]
    assert feedback[0]["query"] == "How do you replace a model?"
    assert feedback[0]["answer"] == answered["answer"]
    assert feedback[0]["reason"] == "too vague"
    assert feedback[0]["better_answer"].startswith("Ship it blue/green")


def test_opik_gets_a_feedback_score_on_the_trace() -> None:
    class FakeOpik:
        class config:
            url_override = "http://127.0.0.1:1/api"

        def __init__(self) -> None:
            self.scores: list[dict[str, Any]] = []

        def log_traces_feedback_scores(self, scores: list[dict[str, Any]]) -> None:
            self.scores += scores

    client = FakeOpik()
    item = FeedbackItem("trace-1", 1.0, "spot on", None, {"query": "q", "answer": "a"})
    OpikSink(client, "llm-twin-staging").export([item])
    assert client.scores == [
        {
            "id": "trace-1",
            "name": "human_rating",
            "value": 1.0,
            "reason": "spot on",
            "project_name": "llm-twin-staging",
        }
    ]


# The receiver comes first so that it is torn down last, after the Opik client has ended.
def test_opik_receives_the_rating_and_the_better_answer_as_a_trace_comment(
    opik_receiver: Any, make_service: Any
) -> None:
    """Through the real Opik client: the rating is a feedback score on the trace and the better
    answer a comment on it, which the preferences step reads back into a better_answer pair."""
    service = make_service(OPIK_URL_OVERRIDE=opik_receiver.api_url, OPIK_PROJECT_NAME="twin-test")
    client = TestClient(create_app(service, close_on_shutdown=False))
    answered = client.post("/rag", json={"query": "How do you replace a model?"}).json()
    trace_id = answered["trace_id"]
    better = "Ship it blue/green and keep the old config for a rollback."
    sent = client.post(
        "/feedback",
        json={"trace_id": trace_id, "score": "down", "comment": "vague", "better_answer": better},
    )
    assert sent.status_code == 200, sent.text
    assert service.tracer.flush(15)
    service.tracer.sink.client.flush()

    scores = opik_receiver.items("/api/v1/private/traces/feedback-scores", "scores")
    assert [(s["id"], s["name"], s["value"], s["reason"]) for s in scores] == [
        (trace_id, "human_rating", 0.0, "vague")
    ]
    comments = opik_receiver.posts[f"/api/v1/private/traces/{trace_id}/comments"]
    assert [c["text"] for c in comments] == [f"{BETTER_ANSWER_COMMENT}{better}"]
    # The trace itself left before its comment did: Opik must know it first.
    paths = list(opik_receiver.posts)
    assert paths.index("/api/v1/private/traces/batch") < paths.index(
        f"/api/v1/private/traces/{trace_id}/comments"
    )

    # ...and read back from Opik as the preferences step sees it, the pair is a better_answer one.
    from components.preferences.__main__ import opik_records

    class Search:
        def search_traces(self, **_: Any) -> list[Any]:
            # As the Opik client returns them: TracePublic objects (with their comments).
            return [
                TracePublic(
                    **{
                        "id": trace_id,
                        "start_time": "2030-01-01T00:00:00Z",
                        "input": {"query": "How do you replace a model?"},
                        "output": {"answer": answered["answer"]},
                        "feedback_scores": [
                            {
                                "name": "human_rating",
                                "value": 0.0,
                                "reason": "vague",
                                "source": "sdk",
                            }
                        ],
                        "comments": [
                            {"text": "looked at it", "created_at": "2030-01-01T00:00:00Z"},
                            {"text": c["text"], "created_at": "2030-01-01T00:01:00Z"},
                        ],
                    }
                )
                for c in comments
            ]

    records = opik_records(Search(), "twin-test", datetime(2030, 1, 1, tzinfo=UTC))
    assert records[1]["better_answer"] == better
    pairs = build_pairs(records)
    assert [(p["chosen"], p["rejected"], p["provenance"]["kind"]) for p in pairs] == [
        (better, answered["answer"], "better_answer")
    ]


def test_only_the_newest_better_answer_comment_counts() -> None:
    from components.preferences.__main__ import better_answer

    comments = [
        {"text": f"{BETTER_ANSWER_COMMENT}first try", "created_at": "2030-01-01T00:00:00Z"},
        {"text": f"{BETTER_ANSWER_COMMENT}second try", "created_at": "2030-01-02T00:00:00Z"},
        {"text": "better answer would be nice", "created_at": "2030-01-03T00:00:00Z"},
        {"text": f"{BETTER_ANSWER_COMMENT}   ", "created_at": "2030-01-04T00:00:00Z"},
        "not a comment",
    ]
    assert better_answer(comments) == "second try"
    assert better_answer([]) is None


def _trace(trace_id: str, query: str, answer: str) -> dict[str, Any]:
    return {
        "kind": "trace",
        "id": trace_id,
        "name": "rag",
        "input": {"query": query},
        "output": {"answer": answer},
    }


def _rating(trace_id: str, value: float, better: str | None = None) -> dict[str, Any]:
    record = {"kind": "feedback", "trace_id": trace_id, "name": "human_rating", "value": value}
    record.update({"source": "human", "time": "2026-01-01T00:00:00+00:00", "reason": None})
    if better:
        record["better_answer"] = better
    return record


def test_preference_pairs_from_a_trace_log() -> None:
    log = [
        _trace("t1", "How do you roll out a model?", "Just deploy it."),
        _trace("t2", "how do you  roll out a model?", "Blue/green, with a rollback plan."),
        _trace("t3", "Why chunk by tokens?", "Because."),
        _trace("t4", "Unrated question", "An answer"),
        _rating("t1", 0.0, better="Blue/green behind a smoke test, old config kept."),
        _rating("t2", 1.0),
        _rating("t3", 0.9, better="ignored: the answer was rated up"),
        {
            "kind": "feedback",
            "trace_id": "t4",
            "name": "quality",
            "value": 0.1,
            "source": "monitoring",
            "better_answer": "automatic scores never make pairs",
        },
    ]
    pairs = build_pairs(log)
    kinds = sorted((p["provenance"]["kind"], p["chosen"], p["rejected"]) for p in pairs)
    assert kinds == [
        ("better_answer", "Blue/green behind a smoke test, old config kept.", "Just deploy it."),
        ("rated_answers", "Blue/green, with a rollback plan.", "Just deploy it."),
    ]
    better = next(p for p in pairs if p["provenance"]["kind"] == "better_answer")
    assert better["prompt"] == "How do you roll out a model?"
    assert better["provenance"]["trace_id"] == "t1" and better["provenance"]["score"] == 0.0
    assert build_pairs(log + log) == pairs  # content ids: a rebuild never duplicates
