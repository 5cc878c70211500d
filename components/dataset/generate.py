"""Instruction pairs from cleaned chunks: the chunk is the answer (the author's own words, which
is the voice the twin must learn), the instruction is what that passage answers.

The offline generator is deterministic: the template is chosen by the chunk id and filled with
the document's title (or file path) and the chunk's salient words, so the same store always gives
the same dataset.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#-]{2,}")
_STOPWORD_TEXT = """
    about above after again against also although always among another anyone anything
    because been before being below between both but cannot could does doing down during each
    either else even ever every from further have having here hers herself himself into itself
    just least less many might more most much must myself neither never none nothing often only
    other ought ours ourselves over same should since some something such than that their theirs
    them themselves then there these they thing things this those though through thus together
    under until upon very want well were what when where whether which while whom whose will with
    within without would your yours yourself yourselves the and for are not you was can has had
    its our out one two use used using way may how why who get got let make makes made like
    into onto per via"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

ARTICLE_TEMPLATES = (
    'Write a passage for your article "{title}" about {topics}.',
    'In the voice of your article "{title}", explain {topics}.',
    "Write a paragraph about {topics}, the way you would in a blog post.",
    'Continue your article "{title}" with the part that starts: "{lead}"',
)
POST_TEMPLATES = (
    "Write a short social media post about {topics}.",
    "Share a quick thought on {topics} in a post.",
    'Write a post that starts with "{lead}"',
)
CODE_TEMPLATES = (
    "Write the part of {path} in the {title} repository that deals with {topics}.",
    "Show how you implement {topics} in {path}.",
    'Continue {path} from: "{lead}"',
)


@dataclass(frozen=True)
class Pair:
    id: str
    instruction: str
    answer: str
    type: str
    author: str
    title: str
    link: str
    generator: str

    def row(self) -> dict[str, str]:
        return {
            "id": self.id,
            "instruction": self.instruction,
            "answer": self.answer,
            "type": self.type,
            "author": self.author,
            "title": self.title,
            "link": self.link,
            "generator": self.generator,
        }


def salient_words(text: str, count: int = 3) -> list[str]:
    """The most frequent content words, ties broken by first appearance."""
    words = [w.lower() for w in _WORD.findall(text)]
    frequencies = Counter(w for w in words if w not in _STOPWORDS and len(w) > 3)
    first_seen = {w: i for i, w in reversed(list(enumerate(words)))}
    ranked = sorted(frequencies, key=lambda w: (-frequencies[w], first_seen[w]))
    return ranked[:count]


def _topics(words: list[str]) -> str:
    if not words:
        return "this topic"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _lead(text: str, words: int = 8) -> str:
    return " ".join(text.split()[:words]).rstrip(".,;:")


def offline_instruction(chunk: dict[str, Any]) -> str:
    kind = chunk.get("type", "articles")
    templates = {"posts": POST_TEMPLATES, "repositories": CODE_TEMPLATES}.get(
        kind, ARTICLE_TEMPLATES
    )
    choice = templates[int(chunk["id"].replace("-", "")[:8], 16) % len(templates)]
    return choice.format(
        title=chunk.get("title") or "untitled",
        path=chunk.get("path") or "the code",
        topics=_topics(salient_words(chunk.get("content", ""))),
        lead=_lead(chunk.get("content", "")),
    )


def make_pair(chunk: dict[str, Any], instruction: str, generator: str) -> Pair:
    return Pair(
        id=chunk["id"],
        instruction=" ".join(instruction.split()),
        answer=chunk.get("content", "").strip(),
        type=str(chunk.get("type", "")),
        author=str(chunk.get("author_full_name", "")),
        title=str(chunk.get("title", "")),
        link=str(chunk.get("link", "")),
        generator=generator,
    )
