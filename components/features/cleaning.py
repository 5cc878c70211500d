"""Cleaning before chunking: prose loses Markdown and HTML syntax, code keeps its layout.

Prose keeps paragraph breaks (the chunker prefers to cut there) and link text, and drops what
carries no meaning for retrieval or style: image references, URLs' markup, emphasis markers,
control characters and pictographs.
"""

from __future__ import annotations

import re
import unicodedata

CLEANING_VERSION = "clean-v1"

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]*", re.MULTILINE)
_LIST_MARK = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", re.MULTILINE)
_QUOTE = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~|`{1,3})")
_FENCE = re.compile(r"^```.*$", re.MULTILINE)


def _printable(char: str) -> bool:
    if char in "\n\t":
        return True
    category = unicodedata.category(char)
    # Cc/Cf: control and format characters; So: pictographs and emoji (no tokens in the model).
    return category not in ("Cc", "Cf", "Co", "Cs", "So")


def clean_prose(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _FENCE.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _LIST_MARK.sub("", text)
    text = _QUOTE.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = "".join(char for char in text if _printable(char))
    # Exports hard-wrap paragraphs; a single newline is a soft wrap, a blank line a paragraph
    # break (the only line break the chunker should treat as a boundary).
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def clean_code(text: str) -> str:
    # Blank lines are part of a code style (two between top-level definitions), so they stay.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(char for char in text if char in "\n\t" or unicodedata.category(char) != "Cc")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
