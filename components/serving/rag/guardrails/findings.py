"""What a guardrail check found and decided, in a form that is safe to trace.

A Finding never holds the matched text: only its type, where it was (character offsets) and a
short SHA-256 digest, so two traces that leaked the same address can be told apart without the
trace log becoming a store of the very values the checks keep out of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

PASSED, REDACTED, FLAGGED, BLOCKED = "passed", "redacted", "flagged", "blocked"
VERDICTS = (PASSED, REDACTED, FLAGGED, BLOCKED)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "backslashreplace")).hexdigest()[:12]


@dataclass(frozen=True)
class Finding:
    type: str
    start: int
    end: int
    sha256: str
    score: float = 1.0

    @classmethod
    def of(cls, type: str, text: str, start: int, end: int, score: float = 1.0) -> Finding:
        return cls(type, start, end, digest(text[start:end]), round(score, 4))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "sha256": self.sha256,
            "score": self.score,
        }


@dataclass
class CheckResult:
    """One check's verdict on one text: `text` is what goes on (redacted where it was)."""

    name: str
    verdict: str
    reason: str
    text: str
    score: float | None = None
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # The raw values found: scrubbed from the trace, never written anywhere.
    sensitive: set[str] = field(default_factory=set, repr=False)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "reason": self.reason}


def redact(text: str, findings: list[Finding]) -> str:
    """`text` with every finding replaced by `[<TYPE>]`; overlapping findings merge."""
    spans = sorted((f.start, f.end, f.type) for f in findings)
    merged: list[list[Any]] = []
    for start, end, kind in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            continue
        merged.append([start, end, kind])
    parts, cursor = [], 0
    for start, end, kind in merged:
        parts.append(text[cursor:start])
        parts.append(f"[{kind}]")
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)
