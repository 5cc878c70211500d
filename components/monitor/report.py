"""Aggregate a window's scores, compare with the previous window, and decide.

Drift: a sudden change in how much the model writes, or how long it takes, is a symptom even
when the per-answer scores look fine (a new model that rambles, a tokenizer mismatch, a slower
instance type), so both are compared with the window before:
  token_drift    max(now/before, before/now) - 1 of the mean answer tokens (1.0 = doubled or
                 halved, either way)
  latency_drift  p95 latency now / before - 1 (only a slowdown counts)
A window with fewer than min_traces answered requests decides nothing ("insufficient_data"):
one bad answer at 3 a.m. must not retrain the model.

Human scores (people's ratings through POST /feedback, 0..1) are reported beside the automatic
ones: human_rating is their mean over the window's rated answers, human_ratings their count, and
human_rating_drop how far the mean fell from the window before (0 when it rose). A drop above
max_human_drop, with at least min_human_ratings ratings in both windows, is a quality drop.

Guardrail hit rates (guardrails.py) are reported per check under metrics.guardrails; a jump is
`guardrail_alert`, apart from the quality verdict (it alerts people and retrains nothing).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from components.monitor.guardrails import hit_rates, jump_check
from components.monitor.sources import TraceView

SCORE_NAMES = (
    "quality",
    "groundedness",
    "relevance",
    "fluency",
    "hallucination",
    "answer_relevance",
)


@dataclass(frozen=True)
class Thresholds:
    min_traces: int
    min_quality: float
    max_error_rate: float
    max_token_drift: float
    max_latency_drift: float
    max_human_drop: float = 0.2
    min_human_ratings: int = 3
    max_guardrail_jump: float = 0.2


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 3)


def _ratio(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before <= 0 or now <= 0:
        return None
    return now / before


def summarise(
    current: list[TraceView],
    previous: list[TraceView],
    scores: dict[str, dict[str, float]],
    thresholds: Thresholds,
) -> dict[str, Any]:
    answered = [t for t in current if not t.failed]
    answered_before = [t for t in previous if not t.failed]
    metrics: dict[str, Any] = {
        name: _mean([scores[t.id][name] for t in current if name in scores.get(t.id, {})])
        for name in SCORE_NAMES
    }
    metrics["error_rate"] = round(1 - len(answered) / len(current), 4) if current else None
    tokens_now = _mean([t.answer_tokens for t in answered if t.answer_tokens is not None])
    tokens_before = _mean([t.answer_tokens for t in answered_before if t.answer_tokens is not None])
    ratio = _ratio(tokens_now, tokens_before)
    metrics.update(
        answer_tokens_mean=tokens_now,
        previous_answer_tokens_mean=tokens_before,
        token_drift=round(max(ratio, 1 / ratio) - 1, 4) if ratio else None,
        latency_p95_ms=p95([t.latency_ms for t in answered if t.latency_ms is not None]),
        previous_latency_p95_ms=p95(
            [t.latency_ms for t in answered_before if t.latency_ms is not None]
        ),
    )
    latency = _ratio(metrics["latency_p95_ms"], metrics["previous_latency_p95_ms"])
    metrics["latency_drift"] = round(latency - 1, 4) if latency else None
    rated = [t.human_rating for t in current if t.human_rating is not None]
    rated_before = [t.human_rating for t in previous if t.human_rating is not None]
    metrics.update(
        human_rating=_mean(rated),
        human_ratings=len(rated),
        previous_human_rating=_mean(rated_before),
        previous_human_ratings=len(rated_before),
    )
    metrics["human_rating_drop"] = (
        round(max(0.0, metrics["previous_human_rating"] - metrics["human_rating"]), 4)
        if rated and rated_before
        else None
    )

    metrics["guardrails"] = hit_rates(current, previous)

    enough = len(answered) >= thresholds.min_traces
    compare = enough and len(answered_before) >= thresholds.min_traces
    guardrail_alert = jump_check(
        metrics["guardrails"],
        thresholds.max_guardrail_jump,
        min(len(current), len(previous)) >= thresholds.min_traces,
    )
    checks = [
        _check(
            "quality", metrics["quality"], ">=", thresholds.min_quality, "MinQualityScore", enough
        ),
        _check(
            "error_rate",
            metrics["error_rate"],
            "<=",
            thresholds.max_error_rate,
            "MaxErrorRate",
            len(current) >= thresholds.min_traces,
        ),
        _check(
            "token_drift",
            metrics["token_drift"],
            "<=",
            thresholds.max_token_drift,
            "MaxTokenDrift",
            compare,
        ),
        _check(
            "latency_drift",
            metrics["latency_drift"],
            "<=",
            thresholds.max_latency_drift,
            "MaxLatencyDrift",
            compare,
        ),
        _check(
            "human_rating_drop",
            metrics["human_rating_drop"],
            "<=",
            thresholds.max_human_drop,
            "MaxHumanRatingDrop",
            min(len(rated), len(rated_before)) >= thresholds.min_human_ratings,
        ),
    ]
    failed = [c for c in checks if c["ok"] is False]
    if failed:
        verdict = "quality_drop"
        reason = "; ".join(c["message"] for c in failed)
    elif len(current) < thresholds.min_traces:
        verdict = "insufficient_data"
        reason = (
            f"{len(current)} trace(s) in the window, fewer than MinTraces {thresholds.min_traces}: "
            "no verdict"
        )
    else:
        verdict = "ok"
        reason = "every check passed"
    return {
        "traces": len(current),
        "answered": len(answered),
        "previous_traces": len(previous),
        "metrics": metrics,
        "thresholds": asdict(thresholds),
        "checks": checks,
        "verdict": verdict,
        "quality_ok": 0 if failed else 1,
        "reason": reason,
        "guardrail_alert": guardrail_alert,
    }


def _check(
    name: str, value: float | None, op: str, limit: float, parameter: str, applies: bool
) -> dict[str, Any]:
    if not applies or value is None:
        return {"name": name, "value": value, "limit": limit, "ok": None, "message": "skipped"}
    ok = value >= limit if op == ">=" else value <= limit
    side = "below" if op == ">=" else "above"
    message = f"{name} {value:g} is {side} {parameter} {limit:g}"
    return {"name": name, "value": value, "limit": limit, "ok": ok, "message": message}
