"""Ids in the formats Opik requires: UUIDv7 (time-ordered) for traces, spans, experiments and
experiment items, and a UUID with version 7's layout derived from content for dataset items, so
the same item gets the same id in every run."""

from __future__ import annotations

import hashlib
import secrets
import time


def _format(value: int) -> str:
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def uuid7() -> str:
    """A UUIDv7: 48 bits of Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return _format(value)


def content_uuid(*parts: str) -> str:
    """A UUID with version 7's version and variant bits whose other bits are the SHA-256 of
    `parts`: stable for the same content, a valid id wherever Opik wants a UUIDv7."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    value = int.from_bytes(digest[:16], "big")
    value &= ~(0xF << 76) & ~(0b11 << 62)
    value |= (0x7 << 76) | (0b10 << 62)
    return _format(value)
