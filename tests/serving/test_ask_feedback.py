"""`python -m components.serving.rag.ask ... --feedback`: its arguments and what it reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.serving.rag.ask import parse_args, where_the_feedback_went


def test_feedback_arguments() -> None:
    assert parse_args(["q?", "--feedback", "0.3"]).feedback == 0.3
    args = parse_args(["q?", "--feedback", "down", "--better-answer", "Say it plainly."])
    assert (args.feedback, args.better_answer) == ("down", "Say it plainly.")
    assert parse_args(["q?"]).feedback is None
    with pytest.raises(SystemExit):
        parse_args(["q?", "--better-answer", "without a rating"])


def test_the_feedback_record_is_found_in_the_trace_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPIK_URL_OVERRIDE", "OPIK_API_KEY", "OPIK_API_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    log = tmp_path / "traces.jsonl"
    monkeypatch.setenv("LLM_TWIN_TRACES_FILE", str(log))
    assert "NOT found" in where_the_feedback_went("t1", {})
    record = {
        "kind": "feedback",
        "trace_id": "t1",
        "name": "human_rating",
        "value": 0.0,
        "source": "human",
        "better_answer": "Say it plainly.",
    }
    log.write_text(json.dumps(record) + "\n")
    assert where_the_feedback_went("t1", {}) == (
        f"feedback record human_rating=0 with a better answer on trace t1 written to {log}"
    )
