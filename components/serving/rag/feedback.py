"""Feedback on answers: `POST /feedback {trace_id, score, comment?, better_answer?}`.

`score` is 0..1 or thumbs (`"up"`/`"down"`: 1 and 0). The trace must be one the service answered
(it remembers its last REMEMBERED answers): an unknown id is 404, a bad score or field 422. The
feedback is queued to the tracer like a trace, never written on the request path: in Opik a
feedback score `human_rating` on the trace (source `human`; comment as its reason) and, when a
better answer is given, a trace comment starting with BETTER_ANSWER_COMMENT (Opik's feedback
scores keep a value and a reason only; its trace comments are free text, shown in its UI and
returned with the trace); locally a `feedback` record in the trace log that also carries the
question, the answer given and the better answer. The preferences step turns either into
preference pairs.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from components.dataset.preferences import BETTER_ANSWER_COMMENT

FEEDBACK_NAME = "human_rating"
SOURCE = "human"
REMEMBERED = 10_000
THUMBS = {"up": 1.0, "down": 0.0, "thumbs_up": 1.0, "thumbs_down": 0.0}


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(min_length=1, max_length=64, description="the answer's trace_id")
    # Checked by score_value, not coerced here: lax validation would read `true` as 1.
    score: Any = Field(description='0..1, or "up"/"down"')
    comment: str | None = Field(default=None, max_length=2000)
    better_answer: str | None = Field(default=None, min_length=1, max_length=8000)


def score_value(raw: Any) -> float:
    """The score as 0..1; ValueError saying what is accepted."""
    if isinstance(raw, str):
        value = THUMBS.get(raw.strip().lower())
        if value is None:
            raise ValueError(f'score: {raw!r} is not "up" or "down" or a number from 0 to 1')
        return value
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
        raise ValueError(f'score: {raw!r} is out of range: give a number from 0 to 1, or "up"')
    return float(raw)


class RecentAnswers:
    """The last `size` answers by trace id: what feedback may name, and what it is about."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._items: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, trace_id: str, query: str, answer: str) -> None:
        with self._lock:
            self._items[trace_id] = {"query": query, "answer": answer}
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, trace_id: str) -> dict[str, str] | None:
        with self._lock:
            return self._items.get(trace_id)


class FeedbackItem:
    """One feedback score, queued and exported like a trace."""

    def __init__(
        self,
        trace_id: str,
        value: float,
        comment: str | None,
        better_answer: str | None,
        about: dict[str, str],
    ) -> None:
        self.trace_id, self.value, self.comment = trace_id, value, comment
        self.better_answer, self.about = better_answer, about
        self.time = datetime.now(UTC).isoformat()

    def to_json(self, project: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "kind": "feedback",
            "trace_id": self.trace_id,
            "name": FEEDBACK_NAME,
            "value": self.value,
            "reason": self.comment,
            "source": SOURCE,
            "time": self.time,
            "project_name": project,
            "query": self.about.get("query"),
            "answer": self.about.get("answer"),
        }
        if self.better_answer:
            record["better_answer"] = self.better_answer
        return record

    def opik_comment(self) -> str | None:
        """The trace comment that carries the better answer to Opik, if one was given."""
        return f"{BETTER_ANSWER_COMMENT}{self.better_answer}" if self.better_answer else None

    def to_opik(self, project: str) -> dict[str, Any]:
        return {
            "id": self.trace_id,
            "name": FEEDBACK_NAME,
            "value": self.value,
            "reason": self.comment or None,
            "project_name": project,
        }
