"""Content words of a text, for lexical matching: the reranker's query overlap and the
monitoring job's groundedness and relevance. Function words are dropped and plurals and
-ing/-ed endings folded, so "deploys" meets "deploying"."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
FUNCTION_WORDS = tuple(
    " ".join(
        [
            "a an the and or but if so because as of in on at to for with from by about into",
            "over i me my we our you your it its this that these those there here is are was",
            "were be been have has had do does did not no can could will would should may might",
            "must just very really also then than too which who what when where how why all",
            "some any more most",
        ]
    ).split()
)

_STOP = frozenset(FUNCTION_WORDS)
_SUFFIXES = ("ing", "ed", "es", "s")


def words(text: str) -> list[str]:
    """Lower-cased words of `text` (digits count; an apostrophe joins a suffix)."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in _STOP and len(w) > 2}
