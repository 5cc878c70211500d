"""Self-query and query expansion with an OpenAI-compatible LLM (LLM_API_BASE), when configured.

Self-query pulls an author's name out of the question ("what did Ada write about..."), so the
search is filtered the way the user meant without an explicit `author`; expansion asks for other
phrasings, each searched too, which finds chunks that use other words for the same thing. Both
are best effort: a failing LLM leaves the query as it was (and the trace says why).
"""

from __future__ import annotations

from components.common.chat import complete, json_object
from components.common.settings import LLMSettings

SELF_QUERY_PROMPT = (
    "Extract the name of the person whose writing the user asks about. Reply with JSON only: "
    '{"author": "Full Name"} or {"author": null} when the question names nobody.'
)
EXPAND_PROMPT = (
    "Rewrite the user's question in {n} different ways that a search engine would match against "
    'the answer\'s wording. Reply with JSON only: {{"queries": ["...", ...]}}.'
)
# The LLM shares the request's time budget: a slow one must not hold the answer for a minute.
TIMEOUT_SECONDS = 10.0


def extract_author(settings: LLMSettings, query: str) -> str | None:
    reply = complete(
        settings,
        [{"role": "system", "content": SELF_QUERY_PROMPT}, {"role": "user", "content": query}],
        timeout=min(settings.timeout, TIMEOUT_SECONDS),
    )
    value = (json_object(reply) or {}).get("author")
    return value.strip() if isinstance(value, str) and value.strip() else None


def expand(settings: LLMSettings, query: str, count: int) -> list[str]:
    reply = complete(
        settings,
        [
            {"role": "system", "content": EXPAND_PROMPT.format(n=count)},
            {"role": "user", "content": query},
        ],
        timeout=min(settings.timeout, TIMEOUT_SECONDS),
    )
    found = (json_object(reply) or {}).get("queries")
    if not isinstance(found, list):
        return []
    seen = {query.strip().lower()}
    queries = []
    for item in found:
        if isinstance(item, str) and item.strip() and item.strip().lower() not in seen:
            seen.add(item.strip().lower())
            queries.append(item.strip()[:1000])
    return queries[:count]
