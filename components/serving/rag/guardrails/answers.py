"""Checks of the answer against what it was given: grounding, and empty or looping answers.

grounding  the share of the answer's sentences that the retrieved chunks support, where a
           sentence is supported when at least `sentence_support` of its content words (the
           reranker's and the monitoring job's `content_terms`: function words dropped, endings
           folded) occur in the chunks the prompt held. Lexical and deterministic: the embedding
           model would cost a forward pass per answer on the request path, and the monitoring
           job scores groundedness with the same terms, so a flag here and a low score there
           mean the same thing. Sentences without content words ("Yes.") are not counted.
repetition the share of the answer's word trigrams that repeat an earlier one (a looping
           generation scores near 1; the monitoring job's fluency is 1 minus this).
"""

from __future__ import annotations

import re

from components.common.text_terms import content_terms, words

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def sentences(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _SENTENCE.finditer(text) if m.group().strip()]


def grounding(
    answer: str, context: list[str], sentence_support: float
) -> tuple[float, list[int], int]:
    """(share of supported sentences, indexes of unsupported ones, sentences counted)."""
    known = content_terms(" ".join(context))
    unsupported, counted = [], 0
    for index, (start, end) in enumerate(sentences(answer)):
        terms = content_terms(answer[start:end])
        if not terms:
            continue
        counted += 1
        if len(terms & known) / len(terms) < sentence_support:
            unsupported.append(index)
    if counted == 0:
        return 1.0, [], 0
    return (counted - len(unsupported)) / counted, unsupported, counted


def repetition(answer: str) -> float:
    tokens = words(answer)
    trigrams = [tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)]
    if not trigrams:
        return 0.0
    return 1 - len(set(trigrams)) / len(trigrams)
