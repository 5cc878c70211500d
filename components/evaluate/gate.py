"""The verdict on a candidate: good enough on its own, and not worse than the champion.

The pipeline's ConditionStep makes the actual decision from evaluation.json
(metrics.answer_quality >= MinAnswerQuality and metrics.not_worse_than_champion == 1); this
module computes those numbers and the sentence that names the metric that fell short, which the
Fail step shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GateSettings:
    min_answer_quality: float | None = None
    # Greedy decoding makes scores repeatable, but a retrain on new data moves them a little.
    max_quality_drop: float = 0.02
    max_perplexity_rise: float = 0.10  # relative


@dataclass(frozen=True)
class Verdict:
    passed: bool
    not_worse_than_champion: bool
    reason: str
    comparison: dict[str, Any] | None


def decide(
    candidate: dict[str, float],
    champion: dict[str, Any] | None,
    settings: GateSettings,
) -> Verdict:
    """`champion` is {"version": n, "metrics": {...}} or None when the group has none yet."""
    quality = candidate["answer_quality"]
    shortfalls: list[str] = []
    if settings.min_answer_quality is not None and quality < settings.min_answer_quality:
        shortfalls.append(
            f"answer_quality {quality:.4f} is below MinAnswerQuality "
            f"{settings.min_answer_quality:g}"
        )
    comparison = None
    worse: list[str] = []
    if champion is not None:
        theirs = champion["metrics"]
        name = f"champion v{champion['version']}"
        if quality < theirs["answer_quality"] - settings.max_quality_drop:
            worse.append(
                f"answer_quality {quality:.4f} is worse than {name}'s "
                f"{theirs['answer_quality']:.4f} (allowed drop {settings.max_quality_drop:g})"
            )
        limit = theirs["perplexity"] * (1 + settings.max_perplexity_rise)
        if candidate["perplexity"] > limit:
            worse.append(
                f"perplexity {candidate['perplexity']:.4g} is worse than {name}'s "
                f"{theirs['perplexity']:.4g} (allowed rise {settings.max_perplexity_rise:.0%})"
            )
        comparison = {
            "answer_quality_delta": round(quality - theirs["answer_quality"], 4),
            "perplexity_ratio": round(candidate["perplexity"] / theirs["perplexity"], 4)
            if theirs["perplexity"]
            else None,
            "worse_metrics": [text.split()[0] for text in worse],
        }
    shortfalls += worse
    if shortfalls:
        return Verdict(False, not worse, "; ".join(shortfalls), comparison)
    bar = (
        f"meets MinAnswerQuality {settings.min_answer_quality:g}"
        if settings.min_answer_quality is not None
        else "has no threshold to meet"
    )
    against = (
        f"not worse than champion v{champion['version']}"
        if champion is not None
        else "no champion yet"
    )
    return Verdict(True, True, f"answer_quality {quality:.4f} {bar}; {against}", comparison)
