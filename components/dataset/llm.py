"""Instructions written by an OpenAI-compatible chat model (POST {LLM_API_BASE}/chat/completions).

Only the instruction is generated; the answer stays the author's own chunk. A chunk whose request
keeps failing (timeouts, 429/5xx, unparsable replies) falls back to the offline generator and is
counted; a rejected key or unknown endpoint (401/403/404) stops the job, since every other request
would fail the same way.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class _Retryable(Exception):
    pass


def parse_instruction(content: str) -> str | None:
    """The instruction from a model reply: JSON (possibly fenced), else None."""
    match = _JSON_OBJECT.search(content or "")
    if not match:
        return None
    try:
        value = json.loads(match.group(0)).get("instruction")
    except (json.JSONDecodeError, AttributeError):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


class LLMInstructionWriter:
    def __init__(self, settings: LLMSettings, workers: int = 4) -> None:
        self.settings = settings
        self.workers = workers
        self.fallbacks = 0

    def _request(self, chunk: dict[str, Any]) -> str | None:
        body = {
            "model": self.settings.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Author: {chunk.get('author_full_name', '')}\n"
                    f"Title: {chunk.get('title', '')}\nPassage:\n{chunk.get('content', '')}",
                },
            ],
        }
        request = urllib.request.Request(
            f"{self.settings.api_base}/chat/completions",
            data=json.dumps(body).encode("utf-8"),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.settings.api_key}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code in FATAL_STATUSES:
                raise JobError(
                    f"the LLM at {self.settings.api_base} answered HTTP {exc.code} {exc.reason} "
                    "(check LLM_API_BASE, LLM_API_KEY and LLM_MODEL)"
                ) from None
            raise _Retryable(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError, json.JSONDecodeError) as exc:
            raise _Retryable(str(exc)) from None
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return None
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
