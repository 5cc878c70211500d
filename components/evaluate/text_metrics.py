"""Offline answer-quality metrics, each in [0, 1]: no model, no network, deterministic.

token_f1 and rouge_l measure how much of the reference answer's content the generated answer
carries; style_similarity compares how the two are written (function words, punctuation,
word and sentence length), which is what a twin is for.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from components.common.text_terms import FUNCTION_WORDS, words

__all__ = ["FUNCTION_WORDS", "words"]

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
PUNCTUATION = ".,;:!?-()\"'"


def token_f1(generated: str, reference: str) -> float:
    """SQuAD-style F1 over word bags."""
    got, want = Counter(words(generated)), Counter(words(reference))
    common = sum((got & want).values())
    if common == 0:
        return 0.0
    precision = common / sum(got.values())
    recall = common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def _lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if item == other else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l(generated: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common word subsequence, so word order counts."""
    got, want = words(generated), words(reference)
    if not got or not want:
        return 0.0
    common = _lcs_length(got, want)
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def style_vector(text: str) -> list[float]:
    tokens = words(text)
    if not tokens:
        return []
    counts = Counter(tokens)
    chars = max(1, len(text))
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    vector = [counts[w] / len(tokens) for w in FUNCTION_WORDS]
    vector += [10 * text.count(p) / chars for p in PUNCTUATION]
    vector.append(sum(len(t) for t in tokens) / len(tokens) / 10)
    vector.append(min(len(tokens) / sentences, 60) / 30)
    return vector


def style_similarity(generated: str, reference: str) -> float:
    """Cosine similarity of the two answers' style vectors (0 when either is empty)."""
    a, b = style_vector(generated), style_vector(reference)
    if not a or not b:
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return max(0.0, min(1.0, dot / norm)) if norm else 0.0
