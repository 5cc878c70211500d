"""An LLM judge, used only when LLM_API_BASE is set (with LLM_API_KEY, or its _SECRET reference):
an OpenAI-compatible chat-completions endpoint (through components.common.chat) rates each
generated answer against the reference from 1 to 5."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

from components.common.chat import ChatError, complete
from components.common.settings import LLMSettings, llm_settings

PROMPT = (
    "You grade an AI twin that must answer like a specific author. Compare the candidate answer "
    "with the author's reference answer for content and writing style. Reply with JSON only: "
    '{{"score": <integer 1-5>}} where 5 means indistinguishable from the author.\n\n'
    "Instruction:\n{instruction}\n\nReference answer:\n{reference}\n\n"
    "Candidate answer:\n{candidate}"
)
_SCORE = re.compile(r'"score"\s*:\s*([1-5])')


@dataclass(frozen=True)
class Judge:
    api_base: str
    api_key: str
    model: str = "gpt-4o-mini"
    timeout: float = 30.0

    @classmethod
    def from_environment(cls) -> Judge | None:
        """The judge the job's settings describe, or None without LLM_API_BASE. The key comes
        through the one settings path: LLM_API_KEY locally, its LLM_API_KEY_SECRET reference
        (resolved with the job's role) in AWS, where jobs never get the plain value."""
        settings = llm_settings()
        if settings is None:
            return None
        model = os.environ.get("LLM_JUDGE_MODEL", "").strip() or settings.model
        return cls(settings.api_base, settings.api_key, model, settings.timeout)

    def rate(self, instruction: str, reference: str, candidate: str) -> float | None:
        """The judge's score mapped to [0, 1], or None when it gave no usable answer."""
        prompt = PROMPT.format(instruction=instruction, reference=reference, candidate=candidate)
        settings = LLMSettings(self.api_base, self.api_key, self.model, self.timeout)
        try:
            text = complete(settings, [{"role": "user", "content": prompt}])
        except ChatError as exc:
            print(f"evaluate: judge call failed: {exc}", file=sys.stderr)
            return None
        match = _SCORE.search(text or "")
        return (int(match.group(1)) - 1) / 4 if match else None

    def rate_all(self, items: list[tuple[str, str, str]]) -> list[float | None]:
        """Each item's score in [0, 1], None where the judge gave no usable answer."""
        return [self.rate(*item) for item in items]

    def score_all(self, items: list[tuple[str, str, str]]) -> float | None:
        """Mean score over the items the judge rated; None if it rated none (then the offline
        metrics alone decide, rather than a flaky judge failing the run)."""
        return self.mean(self.rate_all(items))

    def mean(self, rated: list[float | None]) -> float | None:
        scores = [s for s in rated if s is not None]
        if not scores:
            return None
        print(f"evaluate: judge {self.model} rated {len(scores)}/{len(rated)} answers")
        return sum(scores) / len(scores)
