"""The evaluation gate: a candidate ships only when it is good enough and not worse.

Two questions, asked for every metric that matters: is the candidate above the floor (good
enough on its own), and is it no worse than the champion, give or take a tolerance (so noise in
the evaluation does not block every release)? The verdict names the metric that fell short,
because "evaluation failed" with no number is how gates get switched off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    metric: str
    higher_is_better: bool = True
    floor: float | None = None
    tolerance: float = 0.0

    def check(self, candidate: float, champion: float | None) -> str | None:
        """Why the candidate fails this rule, or None when it passes."""
        sign = 1 if self.higher_is_better else -1
        if self.floor is not None and sign * (candidate - self.floor) < 0:
            side = "below" if self.higher_is_better else "above"
            return f"{self.metric} {candidate:.4g} is {side} the floor {self.floor:.4g}"
        if champion is not None and sign * (candidate - champion) < -self.tolerance:
            return (
                f"{self.metric} {candidate:.4g} is worse than the champion's {champion:.4g} "
                f"by more than {self.tolerance:.4g}"
            )
        return None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    failures: tuple[str, ...]

    @property
    def message(self) -> str:
        if self.passed:
            return "the candidate passes every rule"
        return "the candidate does not ship: " + "; ".join(self.failures)


class Gate:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        if not self.rules:
            raise ValueError("a gate without rules lets everything through")

    def judge(
        self, candidate: Mapping[str, float], champion: Mapping[str, float] | None = None
    ) -> Verdict:
        """The first model of a group has no champion: only the floors apply."""
        failures = []
        for rule in self.rules:
            if rule.metric not in candidate:
                failures.append(f"{rule.metric} is missing from the candidate's evaluation")
                continue
            best = champion.get(rule.metric) if champion else None
            problem = rule.check(candidate[rule.metric], best)
            if problem:
                failures.append(problem)
        return Verdict(not failures, tuple(failures))
