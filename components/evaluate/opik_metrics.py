"""The evaluation's per-answer metrics as Opik metrics, and the names their scores carry.

Each is an `opik.evaluation.metrics.base_metric.BaseMetric` (untracked: the evaluation logs the
experiment's traces itself) whose `score(output, reference)` returns Opik's `ScoreResult`, with
the same value text_metrics.py computes. A score carries Opik's documented metric name where
Opik has the metric, the project's name otherwise:

  project metric     score name          Opik equivalent
  rouge_l            rouge_metric        ROUGE (`rouge_type="rougeL"`, F-measure)
  token_f1           token_f1            none (SQuAD-style word-bag F1)
  style_similarity   style_similarity    none (the twin's writing style)
  judge_score        judge_score         none (the project's 1-5 judge of content and style)
  answer_quality     answer_quality      none (0.4 rouge_l + 0.3 token_f1 + 0.3 style, with the
                                         judge averaged in)

The split-level figures (answer_quality, perplexity, eval_loss) are experiment scores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.evaluate import text_metrics

SCORE_NAMES = {
    "rouge_l": "rouge_metric",
    "token_f1": "token_f1",
    "style_similarity": "style_similarity",
    "judge_score": "judge_score",
    "answer_quality": "answer_quality",
}
# Computed from the answer and the reference alone, so an Opik metric can recompute them.
TEXT_METRICS: dict[str, Callable[[str, str], float]] = {
    "rouge_l": text_metrics.rouge_l,
    "token_f1": text_metrics.token_f1,
    "style_similarity": text_metrics.style_similarity,
}
EXPERIMENT_METRICS = ("answer_quality", "perplexity", "eval_loss")


def score_name(metric: str) -> str:
    return SCORE_NAMES.get(metric, metric)


def opik_metrics() -> list[Any]:
    """The text metrics as Opik BaseMetric objects (imports opik)."""
    from opik.evaluation.metrics import base_metric, score_result

    class TextMetric(base_metric.BaseMetric):
        def __init__(self, metric: str, compute: Callable[[str, str], float]) -> None:
            super().__init__(name=score_name(metric), track=False)
            self.compute = compute

        def score(self, output: str, reference: str, **ignored: Any) -> Any:
            value = round(self.compute(output, reference), 4)
            return score_result.ScoreResult(name=self.name, value=value)

    return [TextMetric(metric, compute) for metric, compute in TEXT_METRICS.items()]


def feedback_scores(scores: dict[str, float], computed: list[Any]) -> list[dict[str, Any]]:
    """A trace's feedback scores: what Opik metrics computed, then the item's other scores
    (the judge's, answer_quality) under their score names."""
    found = [{"name": result.name, "value": float(result.value)} for result in computed]
    have = {item["name"] for item in found}
    for metric, value in scores.items():
        name = score_name(metric)
        if name not in have:
            found.append({"name": name, "value": float(value)})
    return found
