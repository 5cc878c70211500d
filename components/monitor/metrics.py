"""Per-trace answer-quality scores, each in [0, 1].

Offline heuristics (no model, deterministic):
  groundedness  share of the answer's content words found in the context it was given (a low
                value means the answer says things the notes do not: the offline stand-in for
                a hallucination judge)
  relevance     share of the question's content words the answer takes up
  fluency       1 - repetition, where repetition is the share of repeated word trigrams (a
                looping or degenerate generation scores near 0)
  quality       0.4 groundedness + 0.3 relevance + 0.3 fluency; 0 for a failed request

With an LLM configured (LLM_API_BASE/LLM_API_KEY), Opik's Hallucination and AnswerRelevance
judges score a sample too, and quality becomes the mean of the heuristic quality and the judges'
(1 - hallucination + answer_relevance) / 2.

The feedback scores logged back onto the traces carry Opik's documented metric names where the
score is an Opik metric's (`hallucination` -> `hallucination_metric`, `answer_relevance` ->
`answer_relevance_metric`, as Opik's own evaluations name them); groundedness, relevance,
fluency and quality are the project's own heuristics and keep their names. report.json keeps the
short names throughout.
"""

from __future__ import annotations

import sys
from typing import Any

from components.common.settings import LLMSettings
from components.common.text_terms import content_terms
from components.evaluate.text_metrics import words
from components.monitor.sources import Score, TraceView

WEIGHTS = {"groundedness": 0.4, "relevance": 0.3, "fluency": 0.3}
# The Opik metrics' own names (their `name` defaults), for the feedback scores.
OPIK_SCORE_NAMES = {
    "hallucination": "hallucination_metric",
    "answer_relevance": "answer_relevance_metric",
}


def groundedness(answer: str, context: list[str]) -> float:
    terms = content_terms(answer)
    if not terms:
        return 0.0
    return len(terms & content_terms(" ".join(context))) / len(terms)


def relevance(query: str, answer: str) -> float:
    terms = content_terms(query)
    if not terms:
        return 1.0 if answer.strip() else 0.0
    return len(terms & content_terms(answer)) / len(terms)


def fluency(answer: str) -> float:
    tokens = words(answer)
    if not tokens:
        return 0.0
    trigrams = [tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)]
    if not trigrams:
        return 1.0
    return len(set(trigrams)) / len(trigrams)


def heuristic_scores(trace: TraceView) -> dict[str, float]:
    if trace.failed:
        return {"quality": 0.0}
    scores = {
        "groundedness": groundedness(trace.answer, trace.context),
        "relevance": relevance(trace.query, trace.answer),
        "fluency": fluency(trace.answer),
    }
    scores["quality"] = sum(WEIGHTS[name] * scores[name] for name in WEIGHTS)
    return {name: round(value, 4) for name, value in scores.items()}


class Judge:
    """Opik's LLM-judge metrics over an OpenAI-compatible endpoint (an OpikBaseModel)."""

    def __init__(self, settings: LLMSettings) -> None:
        from components.common import traces

        traces.prepare_opik()
        from opik.evaluation.metrics import AnswerRelevance, Hallucination
        from opik.evaluation.models import OpikBaseModel

        from components.common.chat import complete

        class ChatModel(OpikBaseModel):
            def generate_string(self, input: str, response_format: Any = None, **kw: Any) -> str:
                return complete(settings, [{"role": "user", "content": input}])

            def generate_provider_response(self, messages: list[dict[str, Any]], **kw: Any):
                return complete(settings, messages)

            def generate_chat_completion(
                self, messages: list[Any], response_format: Any = None, **kw: Any
            ) -> Any:
                return {"role": "assistant", "content": complete(settings, list(messages))}

        model = ChatModel(settings.model)
        self.name = settings.model
        self.hallucination = Hallucination(model=model, track=False)
        self.answer_relevance = AnswerRelevance(model=model, track=False)

    def scores(self, trace: TraceView) -> dict[str, float]:
        found: dict[str, float] = {}
        try:
            found["hallucination"] = float(
                self.hallucination.score(
                    input=trace.query, output=trace.answer, context=trace.context
                ).value
            )
            found["answer_relevance"] = float(
                self.answer_relevance.score(
                    input=trace.query, output=trace.answer, context=trace.context
                ).value
            )
        except Exception as exc:
            # A flaky judge must not decide the verdict: the heuristics still do.
            print(f"monitor: judge failed on trace {trace.id}: {exc}", file=sys.stderr)
            return {}
        return found


def score_traces(
    window: list[TraceView], judge: Judge | None = None, judge_sample: int = 20
) -> dict[str, dict[str, float]]:
    """Scores by trace id; the judge sees at most `judge_sample` traces (spread over the
    window, deterministically) since each call costs money and time."""
    results = {trace.id: heuristic_scores(trace) for trace in window}
    if judge is None or judge_sample <= 0:
        return results
    answered = [trace for trace in window if not trace.failed]
    step = max(1, len(answered) // judge_sample)
    for trace in answered[::step][:judge_sample]:
        judged = judge.scores(trace)
        if judged:
            scores = results[trace.id]
            scores.update({k: round(v, 4) for k, v in judged.items()})
            judge_quality = (1 - judged["hallucination"] + judged["answer_relevance"]) / 2
            scores["quality"] = round((scores["quality"] + judge_quality) / 2, 4)
    return results


def as_feedback(results: dict[str, dict[str, float]]) -> list[Score]:
    return [
        Score(trace_id, OPIK_SCORE_NAMES.get(name, name), value)
        for trace_id, scores in sorted(results.items())
        for name, value in sorted(scores.items())
    ]
