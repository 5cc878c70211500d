"""One chat completion from an OpenAI-compatible endpoint (POST {LLM_API_BASE}/chat/completions).

The one call behind every LLM feature: dataset instructions, the evaluation and monitoring
judges, and serving's query expansion and self-query. Failures raise ChatError with one readable
line; callers decide whether the feature degrades (serving does), retries or the job stops.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from components.common.settings import LLMSettings


class ChatError(Exception):
    """The LLM could not be reached or gave no usable reply. `status`: the HTTP status of a
    refused request, else None."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ChatReplyError(ChatError):
    """The LLM answered, but with no message text: asking again will not help."""


def complete(
    settings: LLMSettings,
    messages: list[dict[str, str]],
    temperature: float = 0.0,
    timeout: float | None = None,
    **extra: Any,
) -> str:
    """The assistant's reply text to `messages`."""
    body = {"model": settings.model, "temperature": temperature, "messages": messages, **extra}
    request = urllib.request.Request(
        f"{settings.api_base}/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {settings.api_key}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout or settings.timeout) as response:
            reply = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise ChatError(
            f"the LLM at {settings.api_base} answered HTTP {exc.code} {exc.reason}", exc.code
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChatError(f"the LLM at {settings.api_base} is unreachable: {reason}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ChatError(f"the LLM at {settings.api_base} replied with no JSON") from None
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ChatReplyError(f"the LLM at {settings.api_base} replied without a message") from None
    if not isinstance(content, str):
        raise ChatReplyError(f"the LLM at {settings.api_base} replied without text")
    return content


def json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a reply (models wrap JSON in prose or code fences), else None."""
    start = text.find("{")
    end = text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
