"""Content words of a text, for lexical matching: the reranker's query overlap and the
monitoring job's groundedness and relevance. Function words are dropped and plurals and
-ing/-ed endings folded, so "deploys" meets "deploying"."""

from __future__ import annotations

from components.evaluate.text_metrics import FUNCTION_WORDS, words

_STOP = frozenset(FUNCTION_WORDS)
_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in _STOP and len(w) > 2}
