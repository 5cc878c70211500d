"""Quarantine, don't drop: every input is stored or quarantined, and counted either way.

`Ledger.attempt` wraps the handling of one input. If the body raises, the input is quarantined
with the reason and (when small) its raw bytes, and the loop goes on. At the end,
`read == stored + quarantined` always holds, and the summary says what went wrong in one line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# Keep the raw input up to this size, so fixing a source does not need a second fetch.
MAX_KEPT_BYTES = 64 * 1024


@dataclass
class Quarantined:
    location: str
    reason: str
    raw: bytes | None = None


@dataclass
class Ledger:
    stored: int = 0
    items: list[Quarantined] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return len(self.items)

    @property
    def read(self) -> int:
        return self.stored + self.quarantined

    @contextmanager
    def attempt(self, location: str, raw: Any = None) -> Iterator[None]:
        try:
            yield
        except Exception as exc:  # one bad input must never end the run
            self.items.append(Quarantined(location, reason_for(exc), _bytes(raw)))
        else:
            self.stored += 1

    def summary(self) -> str:
        line = f"{self.read} read: {self.stored} stored, {self.quarantined} quarantined"
        reasons = Counter(item.reason for item in self.items).most_common()
        return f"{line} ({', '.join(f'{n} {r}' for r, n in reasons)})" if reasons else line


def reason_for(exc: Exception) -> str:
    """A short, countable reason: the same failure gives the same text on every input."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return "malformed JSON"
    message = str(exc).strip().splitlines()
    return message[0] if message else type(exc).__name__


def _bytes(raw: Any) -> bytes | None:
    if raw is None:
        return None
    data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "backslashreplace")
    return data if len(data) <= MAX_KEPT_BYTES else None
