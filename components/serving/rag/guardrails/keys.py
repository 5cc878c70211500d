"""Key-like strings (API keys, tokens, private keys, passwords in URLs) in a text.

The patterns are Yelp's detect-secrets (the scanner this project's secret gate already runs):
every regex-based plugin it ships (AWS, GitHub, GitLab, Slack, Stripe, Twilio, OpenAI, JWT,
private keys, basic-auth URLs, ...), applied in process to find where each match is. Its
high-entropy plugins only look at quoted strings in source code, so an unquoted token in a
question is measured the same way here: a run of 20+ base64 characters (or 32+ hex) holding
letters and digits whose Shannon entropy passes detect-secrets' own default limits (4.5 and 3.0
bits per character).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

from components.serving.rag.guardrails.findings import Finding

BASE64_LIMIT = 4.5
HEX_LIMIT = 3.0
_BASE64_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX_TOKEN = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])")
# Plugins that are no patterns of a key: the entropy ones (done here, unquoted) and the keyword
# one, whose patterns match "password" in prose ("how do you store a password safely?").
# IPPublicDetector finds addresses, which the PII check reports as IP_ADDRESS.
_SKIPPED = {
    "Base64HighEntropyString",
    "HexHighEntropyString",
    "KeywordDetector",
    "IPPublicDetector",
}


@functools.cache
def _patterns() -> tuple[tuple[str, Any], ...]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    found = []
    for plugin in get_mapping_from_secret_type_to_class().values():
        if plugin.__name__ in _SKIPPED or not issubclass(plugin, RegexBasedDetector):
            continue
        name = plugin.__name__.removesuffix("Detector") or plugin.__name__
        found.extend((name, pattern) for pattern in plugin().denylist)
    return tuple(found)


def entropy(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def _mixed(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def find_keys(text: str) -> list[Finding]:
    """Every key-like string in `text`, typed by the detect-secrets plugin that knows it (or
    HighEntropyString), in order of position."""
    found: list[Finding] = []
    for name, pattern in _patterns():
        for match in pattern.finditer(text):
            group = 1 if match.re.groups and match.group(1) else 0
            start, end = match.span(group)
            found.append(Finding.of(name, text, start, end))
    for pattern, limit in ((_BASE64_TOKEN, BASE64_LIMIT), (_HEX_TOKEN, HEX_LIMIT)):
        for match in pattern.finditer(text):
            token = match.group()
            score = entropy(token)
            start, end = match.span()
            known = any(f.start < end and start < f.end for f in found)
            if _mixed(token) and score > limit and not known:
                found.append(Finding.of("HighEntropyString", text, start, end, score))
    return sorted(found, key=lambda f: (f.start, f.end, f.type))
