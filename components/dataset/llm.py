"""Instructions written by an OpenAI-compatible chat model (through components.common.chat).

Only the instruction is generated; the answer stays the author's own chunk. A chunk whose request
keeps failing (timeouts, 429/5xx, unparsable replies) falls back to the offline generator and is
counted; a rejected key or unknown endpoint (401/403/404) stops the job, since every other request
would fail the same way.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from components.common.chat import ChatError, ChatReplyError, complete, json_object
from components.common.job import JobError
from components.common.settings import LLMSettings

ATTEMPTS = 3
FATAL_STATUSES = {400, 401, 403, 404}
SYSTEM_PROMPT = (
    "You build a fine-tuning dataset that teaches a model to write like a given author. You are "
    'shown a passage the author wrote. Reply with JSON only: {"instruction": "..."}, where '
    "the instruction is a request (one or two sentences, in the imperative) to which the passage "
    "is the perfect answer. Do not quote the passage and do not mention that it exists."
)


class _Retryable(Exception):
    pass


def parse_instruction(content: str) -> str | None:
    """The instruction from a model reply: JSON (possibly fenced), else None."""
    value = (json_object(content or "") or {}).get("instruction")
    return value.strip() if isinstance(value, str) and value.strip() else None


class LLMInstructionWriter:
    def __init__(self, settings: LLMSettings, workers: int = 4) -> None:
        self.settings = settings
        self.workers = workers
        self.fallbacks = 0

    def _request(self, chunk: dict[str, Any]) -> str | None:
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": f"Author: {chunk.get('author_full_name', '')}\n"
                f"Title: {chunk.get('title', '')}\nPassage:\n{chunk.get('content', '')}",
            },
        ]
        try:
            content = complete(self.settings, messages)
        except ChatReplyError:
            return None
        except ChatError as exc:
            if exc.status in FATAL_STATUSES:
                raise JobError(f"{exc} (check LLM_API_BASE, LLM_API_KEY and LLM_MODEL)") from None
            raise _Retryable(str(exc)) from None
        return parse_instruction(content)

    def instruction(self, chunk: dict[str, Any]) -> str | None:
        for attempt in range(ATTEMPTS):
            try:
                return self._request(chunk)
            except _Retryable:
                if attempt + 1 < ATTEMPTS:
                    time.sleep(0.5 * 2**attempt)
        return None

    def instructions(self, chunks: list[dict[str, Any]]) -> list[str | None]:
        """One instruction per chunk, in order; None where the model gave nothing usable."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            results = list(pool.map(self.instruction, chunks))
        self.fallbacks = sum(result is None for result in results)
        return results
