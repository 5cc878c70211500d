"""Prompt-injection and jailbreak patterns, from injection_patterns.yaml (the maintained list:
each entry names the technique and the file names its sources).

Text is normalised before matching, so the usual evasions meet the same patterns: Unicode NFKC
(full-width and other compatibility forms fold to ASCII), zero-width characters dropped,
whitespace collapsed, lower case. A pattern either matches or not: the check's score is 1.0
when any does (the span lists which), 0.0 otherwise. The Opik backend scores with a classifier
instead (a probability against the policy's threshold).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

PATTERNS_FILE = Path(__file__).with_name("injection_patterns.yaml")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@dataclass(frozen=True)
class Pattern:
    id: str
    description: str
    regex: re.Pattern[str]


@functools.cache
def patterns(path: Path = PATTERNS_FILE) -> tuple[Pattern, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(
        Pattern(item["id"], item["description"], re.compile(item["regex"], re.IGNORECASE))
        for item in data["patterns"]
    )


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    return " ".join(folded.split()).lower()


def matches(text: str) -> list[str]:
    """The ids of the patterns `text` matches, in the file's order."""
    flat = normalise(text)
    return [pattern.id for pattern in patterns() if pattern.regex.search(flat)]
