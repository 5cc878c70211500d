"""Where the monitoring job reads traces and writes scores back: Opik, or the local trace log.

Both give the same TraceView, taken from what the RAG service records: input.query,
output.answer and output.context, metadata.status, answer_tokens, latency_ms.total and
guardrails (each guardrail's verdict); and the
latest rating a person gave the answer (POST /feedback: the `human_rating` feedback score in
Opik, a `feedback` record with source `human` in the log).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from components.common import traces
from components.common.job import JobError

SCORE_SOURCE = "llm-twin-monitoring"
HUMAN_SCORE = "human_rating"


@dataclass(frozen=True)
class TraceView:
    id: str
    start: datetime
    query: str
    answer: str
    context: list[str]
    status: int
    answer_tokens: int | None
    latency_ms: float | None
    human_rating: float | None = None  # 0..1, the latest a person gave; None: not rated
    # Check ("input.pii") -> verdict (passed, redacted, flagged, blocked); empty: none ran.
    guardrails: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status >= 500


@dataclass(frozen=True)
class Score:
    trace_id: str
    name: str
    value: float
    reason: str = ""


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, str) and value:
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _human_rating(record: Mapping[str, Any]) -> float | None:
    """An Opik trace's human_rating feedback score, if it has one."""
    for score in record.get("feedback_scores") or []:
        if isinstance(score, Mapping) and score.get("name") == HUMAN_SCORE:
            return _number(score.get("value"))
    return None


def view(record: Mapping[str, Any], human_rating: float | None = None) -> TraceView | None:
    """A TraceView of one trace (a log record or an Opik trace as a dict); None if unusable."""
    start = parse_time(record.get("start_time"))
    if start is None or not record.get("id"):
        return None
    inputs = record.get("input") or {}
    output = record.get("output") or {}
    metadata = record.get("metadata") or {}
    status = metadata.get("status")
    if not isinstance(status, int):
        status = 500 if record.get("error_info") else 200
    latency = (metadata.get("latency_ms") or {}).get("total")
    if _number(latency) is None:
        end = parse_time(record.get("end_time"))
        latency = (end - start).total_seconds() * 1000 if end else None
    context = [
        str(item.get("text", "")) if isinstance(item, dict) else str(item)
        for item in output.get("context") or []
    ]
    tokens = metadata.get("answer_tokens")
    verdicts = metadata.get("guardrails")
    guardrails = (
        {str(k): str(v) for k, v in verdicts.items() if isinstance(v, str)}
        if isinstance(verdicts, Mapping)
        else {}
    )
    return TraceView(
        id=str(record["id"]),
        start=start,
        query=str(inputs.get("query", "")),
        answer=str(output.get("answer", "")),
        context=context,
        status=status,
        answer_tokens=int(tokens) if _number(tokens) is not None else None,
        latency_ms=_number(latency),
        human_rating=human_rating if human_rating is not None else _human_rating(record),
        guardrails=guardrails,
    )


class TraceStore(Protocol):
    description: str

    def fetch(self, start: datetime, end: datetime) -> list[TraceView]: ...

    def log_scores(self, scores: list[Score]) -> None: ...


class JsonlStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"local trace log {path}"
        self.skipped_lines = 0

    def fetch(self, start: datetime, end: datetime) -> list[TraceView]:
        records, self.skipped_lines = traces.read_records(self.path)
        ratings = {
            r["trace_id"]: float(r["value"])
            for r in records
            if r.get("kind") == "feedback"
            and r.get("source") == "human"
            and r.get("name") == HUMAN_SCORE
            and isinstance(r.get("trace_id"), str)
            and _number(r.get("value")) is not None
        }
        found = []
        for record in records:
            if record.get("kind") != "trace" or record.get("name") != traces.TRACE_NAME:
                continue
            item = view(record, ratings.get(str(record.get("id"))))
            if item is not None and start <= item.start < end:
                found.append(item)
        return sorted(found, key=lambda t: (t.start, t.id))

    def log_scores(self, scores: list[Score]) -> None:
        now = datetime.now(UTC).isoformat()
        traces.append_records(
            self.path,
            [
                {
                    "kind": "feedback",
                    "trace_id": s.trace_id,
                    "name": s.name,
                    "value": s.value,
                    "reason": s.reason,
                    "source": SCORE_SOURCE,
                    "time": now,
                }
                for s in scores
            ],
        )


class OpikStore:
    """Traces of the configured Opik project, and feedback scores logged back onto them."""

    def __init__(self, client: Any, project: str) -> None:
        self.client = client
        self.project = project
        self.description = f"Opik project {project!r} at {client.config.url_override}"

    def fetch(self, start: datetime, end: datetime) -> list[TraceView]:
        found = traces.search_opik(
            self.client, self.project, start, end, truncate=True, source=self.description
        )
        views = [item for item in map(view, found) if item is not None]
        return sorted(views, key=lambda t: (t.start, t.id))

    def log_scores(self, scores: list[Score]) -> None:
        if not scores:
            return
        self.client.log_traces_feedback_scores(
            [
                {
                    "id": s.trace_id,
                    "name": s.name,
                    "value": s.value,
                    "reason": s.reason or None,
                    "project_name": self.project,
                }
                for s in scores
            ]
        )
        self.client.flush(timeout=30)


def open_store(env: Mapping[str, str] | None = None) -> TraceStore:
    env = os.environ if env is None else env
    if traces.opik_configured(env):
        return OpikStore(traces.opik_client(env), traces.project_name(env))
    path = traces.local_traces_path(env)
    if path is None:
        raise JobError(
            "no traces to read: configure Opik (OPIK_URL_OVERRIDE or OPIK_API_KEY) or set "
            f"{traces.TRACES_FILE_VARIABLE} to the RAG service's local trace log"
        )
    return JsonlStore(path)
