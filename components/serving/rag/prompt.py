"""The instruction sent to the model: retrieved chunks, best first, within a token budget.

The model server wraps it in the same chat template (and system prompt) the twin was fine-tuned
with, so this is only the user turn. Tokens are counted with the generator's own tokenizer
(tokens.py), so the budget and the trace's figures are in the deployed model's units.

The wording lives in two templates, versioned as Opik prompts (prompt_library.py):
`llm-twin-rag-answer` (passages, then the question) and `llm-twin-rag-answer-no-context` (no
passage fits or none was found). They are Mustache, as Opik's default prompt type: `{{context}}`
and `{{question}}`. Rendering substitutes each placeholder once, left to right, so a question or
passage that itself holds `{{...}}` is never expanded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from components.serving.rag.retrieval import Hit

# Passages first, question last, no numbering: with "[1]"-style notes the small local twin
# continued the numbering instead of answering; this layout gave it a direct answer.
HEADER = "Here are passages you wrote:"
ASK = "Using them, answer in a few sentences: "
ASK_WITHOUT_NOTES = "Answer in a few sentences: "
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class PromptTemplate:
    """One versioned wording: its name in the prompt library and its Mustache text."""

    name: str
    template: str

    def render(self, **values: str) -> str:
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], self.template)


RAG_ANSWER = PromptTemplate(
    "llm-twin-rag-answer", f"{HEADER}\n\n{{{{context}}}}\n\n{ASK}{{{{question}}}}"
)
RAG_ANSWER_NO_CONTEXT = PromptTemplate(
    "llm-twin-rag-answer-no-context", f"{ASK_WITHOUT_NOTES}{{{{question}}}}"
)
TEMPLATES = (RAG_ANSWER, RAG_ANSWER_NO_CONTEXT)


@dataclass(frozen=True)
class Prompt:
    text: str
    template: PromptTemplate
    used: list[Hit]
    skipped: int
    query_tokens: int
    context_tokens: int
    prompt_tokens: int


def chunk_block(hit: Hit) -> str:
    title = str(hit.payload.get("title") or "").strip()
    text = " ".join(hit.content.split())
    return f"{title}: {text}" if title else text


def build_prompt(
    query: str, ranked: list[Hit], top_k: int, budget: int, count: Callable[[str], int]
) -> Prompt:
    """Up to `top_k` chunks in rank order; a chunk that would overflow the budget is skipped
    and a shorter one further down may take its place."""
    used: list[Hit] = []
    blocks: list[str] = []
    context_tokens = 0
    skipped = 0
    for hit in ranked:
        if len(used) == top_k:
            break
        block = chunk_block(hit)
        tokens = count(block)
        if context_tokens + tokens > budget:
            skipped += 1
            continue
        used.append(hit)
        blocks.append(block)
        context_tokens += tokens
    template = RAG_ANSWER if blocks else RAG_ANSWER_NO_CONTEXT
    text = template.render(context="\n\n".join(blocks), question=query)
    return Prompt(
        text=text,
        template=template,
        used=used,
        skipped=skipped,
        query_tokens=count(query),
        context_tokens=context_tokens,
        prompt_tokens=count(text),
    )
