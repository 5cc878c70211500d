"""Runs a policy's checks on a request, each check a span of the request's trace.

Spans (type `guardrail`): `guardrails:input` holds `guardrail:input.pii`, `.secrets`,
`.injection` and `.length`, run on the question before anything reads it (the query LLM, the
embedding model, the prompt); `guardrail:input.topic` follows retrieval (its score is the
question's similarity to the closest chunk of the corpus); `guardrails:output` holds
`guardrail:output.pii`, `.secrets`, `.grounding` and `.degenerate`, run on the model's answer
before it is returned. Each check span's output is {verdict, score, reason, findings}, findings
as type, offsets and a digest (findings.py); its metadata the action, backend and thresholds.

A check that redacts passes the redacted text on; one that flags passes the text unchanged and
says so; one that blocks raises GuardrailBlocked, and later checks do not run. Whatever the
action, the values a text check found are kept in the request's Outcome and scrubbed from the
whole trace (input, output, every span) before it is exported: a flagged e-mail address still
reaches the model, but never the trace store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.serving.rag.guardrails import answers, injection
from components.serving.rag.guardrails.findings import (
    BLOCKED,
    FLAGGED,
    PASSED,
    REDACTED,
    CheckResult,
    Finding,
    redact,
)
from components.serving.rag.guardrails.keys import find_keys
from components.serving.rag.guardrails.opik_backend import OpikGuardrails, OpikGuardrailsError
from components.serving.rag.guardrails.pii import find_pii
from components.serving.rag.guardrails.policy import Check, Policy

SPAN_TYPE = "guardrail"
SCRUBBED = "[REDACTED]"


class GuardrailBlocked(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__(f"blocked by guardrail {result.name}: {result.reason}")
        self.result = result


@dataclass
class Outcome:
    """One request's verdicts, and the raw values its text checks found (never exported)."""

    results: list[CheckResult] = field(default_factory=list)
    sensitive: set[str] = field(default_factory=set)

    def verdicts(self) -> dict[str, str]:
        return {result.name: result.verdict for result in self.results}

    def summary(self) -> list[dict[str, Any]]:
        return [result.summary() for result in self.results]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _counted(findings: list[Finding]) -> str:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.type] = counts.get(finding.type, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def scrub(value: Any, sensitive: list[str]) -> Any:
    """`value` (JSON-like) with every sensitive string replaced, longest first."""
    if isinstance(value, str):
        for secret in sensitive:
            value = value.replace(secret, SCRUBBED)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, sensitive) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, sensitive) for item in value]
    return value


def scrub_trace(trace: Any, outcome: Outcome) -> None:
    """Remove what the text checks found from everything the trace exports."""
    if not outcome.sensitive or not getattr(trace, "enabled", False):
        return
    ordered = sorted(outcome.sensitive, key=len, reverse=True)
    trace.input = scrub(trace.input, ordered)
    trace.output = scrub(trace.output, ordered)
    for span in trace.spans:
        span.input = scrub(span.input, ordered)
        span.output = scrub(span.output, ordered)


class Guardrails:
    def __init__(self, policy: Policy, opik: OpikGuardrails | None = None) -> None:
        self.policy = policy
        self.opik = opik
        self.backend = "opik" if opik is not None else "local"

    @classmethod
    def from_policy(cls, policy: Policy, env: Mapping[str, str]) -> Guardrails:
        """Opik's API when the policy asks for it and a server is configured; local otherwise."""
        from components.common import traces

        if policy.backend == "opik" and traces.opik_configured(env):
            return cls(policy, OpikGuardrails(env))
        return cls(policy)

    def describe(self) -> str:
        where = f"Opik at {self.opik.host} + local" if self.opik else "local"
        return f"{len(self.policy.enabled())} checks ({where}) from {self.policy.source}"

    # -- stages ----------------------------------------------------------------------------
    def check_input(self, trace: Any, outcome: Outcome, query: str) -> str:
        """The question to go on with (redacted where a check redacted)."""
        checks = self.policy.input
        steps: list[tuple[str, Check, Callable[..., CheckResult]]] = [
            ("input.pii", checks.pii, self._pii),
            ("input.secrets", checks.secrets, self._secrets),
            ("input.injection", checks.injection, self._injection),
            ("input.length", checks.length, self._length),
        ]
        return self._stage(trace, outcome, "guardrails:input", steps, query)

    def check_topic(self, trace: Any, outcome: Outcome, similarity: float | None) -> None:
        check = self.policy.input.topic
        if not check.enabled:
            return
        with trace.span(
            "guardrail:input.topic", type=SPAN_TYPE, input={"similarity": similarity}
        ) as span:
            score = similarity if similarity is not None else 0.0
            hit = score < check.min_similarity
            reason = (
                f"the closest chunk of the corpus has similarity {score:.2f}, below "
                f"{check.min_similarity:g}: the question is off topic"
                if hit
                else f"similarity {score:.2f} to the corpus"
            )
            result = self._decide("input.topic", check, hit, reason, "", score)
            self._record(span, result, check)
        self._keep(outcome, result)

    def check_output(self, trace: Any, outcome: Outcome, answer: str, context: list[str]) -> str:
        """The answer to return (redacted where a check redacted)."""
        checks = self.policy.output
        steps: list[tuple[str, Check, Callable[..., CheckResult]]] = [
            ("output.pii", checks.pii, self._pii),
            ("output.secrets", checks.secrets, self._secrets),
            (
                "output.grounding",
                checks.grounding,
                lambda n, c, t: self._grounding(n, c, t, context),
            ),
            ("output.degenerate", checks.degenerate, self._degenerate),
        ]
        return self._stage(trace, outcome, "guardrails:output", steps, answer)

    def _stage(
        self,
        trace: Any,
        outcome: Outcome,
        name: str,
        steps: list[tuple[str, Check, Callable[..., CheckResult]]],
        text: str,
    ) -> str:
        with trace.span(name, type=SPAN_TYPE, input={"chars": len(text)}) as stage:
            verdicts: dict[str, str] = {}
            try:
                for check_name, check, run in steps:
                    if not check.enabled:
                        continue
                    with trace.span(
                        f"guardrail:{check_name}",
                        type=SPAN_TYPE,
                        parent=stage,
                        input={"chars": len(text)},
                    ) as span:
                        result = run(check_name, check, text)
                        self._record(span, result, check)
                    verdicts[check_name] = result.verdict
                    self._keep(outcome, result)
                    text = result.text
            finally:
                stage.output = {"verdicts": verdicts, "chars": len(text)}
                stage.metadata["backend"] = self.backend
        return text

    def _keep(self, outcome: Outcome, result: CheckResult) -> None:
        outcome.results.append(result)
        outcome.sensitive |= result.sensitive
        if result.verdict == BLOCKED:
            raise GuardrailBlocked(result)

    def _record(self, span: Any, result: CheckResult, check: Check) -> None:
        span.output = {
            "verdict": result.verdict,
            "score": None if result.score is None else round(result.score, 4),
            "reason": result.reason,
            "findings": [finding.to_json() for finding in result.findings],
            **result.details,
        }
        settings = check.model_dump(exclude={"enabled"})
        span.metadata.update(backend=result.details.get("backend", "local"), **settings)

    def _decide(
        self,
        name: str,
        check: Check,
        hit: bool,
        reason: str,
        text: str,
        score: float | None,
        findings: list[Finding] | None = None,
        redacted: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> CheckResult:
        verdict = PASSED
        if hit:
            verdict = {"block": BLOCKED, "redact": REDACTED, "flag": FLAGGED}[check.action]
        passed_on = redacted if verdict == REDACTED and redacted is not None else text
        return CheckResult(name, verdict, reason, passed_on, score, findings or [], details or {})

    # -- checks ----------------------------------------------------------------------------
    def _found(
        self, name: str, check: Check, text: str, findings: list[Finding], details: dict
    ) -> CheckResult:
        reason = f"found {_counted(findings)}" if findings else "nothing found"
        score = max((f.score for f in findings), default=0.0)
        redacted = redact(text, findings)
        result = self._decide(
            name, check, bool(findings), reason, text, score, findings, redacted, details
        )
        result.sensitive = {text[f.start : f.end] for f in findings}
        return result

    def _pii(self, name: str, check: Any, text: str) -> CheckResult:
        details: dict[str, Any] = {"backend": "local"}
        findings: list[Finding] | None = None
        if self.opik is not None:
            try:
                findings = self.opik.pii(text, check.entities, check.threshold)
                details["backend"] = "opik"
            except OpikGuardrailsError as exc:
                details["opik_error"] = str(exc)
        if findings is None:
            findings = find_pii(text, check.entities, check.phone_region)
        return self._found(name, check, text, findings, details)

    def _secrets(self, name: str, check: Any, text: str) -> CheckResult:
        findings = find_keys(text)
        return self._found(name, check, text, findings, {"backend": "local"})

    def _injection(self, name: str, check: Any, text: str) -> CheckResult:
        matched = injection.matches(text)
        details: dict[str, Any] = {"backend": "local", "patterns": matched}
        score = 1.0 if matched else 0.0
        if self.opik is not None:
            try:
                opik_score = self.opik.injection(text, check.threshold)
                details.update(backend="opik", opik_score=round(opik_score, 4))
                score = max(score, opik_score)
            except OpikGuardrailsError as exc:
                details["opik_error"] = str(exc)
        hit = bool(matched) or score >= check.threshold
        if matched:
            reason = f"the question matches injection pattern(s) {', '.join(matched)}"
        elif hit:
            reason = f"injection score {score:.2f} is at or above {check.threshold:g}"
        else:
            reason = "no injection pattern"
        return self._decide(name, check, hit, reason, text, score, details=details)

    def _length(self, name: str, check: Any, text: str) -> CheckResult:
        chars, word_count = len(text), len(text.split())
        if chars > check.max_chars:
            reason = f"the question is {chars} characters; the limit is {check.max_chars}"
        elif word_count > check.max_words:
            reason = f"the question is {word_count} words; the limit is {check.max_words}"
        else:
            reason = f"{_plural(chars, 'character')}, {_plural(word_count, 'word')}"
        hit = chars > check.max_chars or word_count > check.max_words
        return self._decide(name, check, hit, reason, text, float(chars))

    def _grounding(self, name: str, check: Any, text: str, context: list[str]) -> CheckResult:
        score, unsupported, counted = answers.grounding(text, context, check.sentence_support)
        hit = score < check.min_score
        reason = (
            f"{len(unsupported)} of {_plural(counted, 'sentence')} not supported by the "
            f"retrieved chunks (score {score:.2f}, below {check.min_score:g})"
            if hit
            else f"score {score:.2f} over {_plural(counted, 'sentence')}"
        )
        details = {"unsupported_sentences": unsupported, "chunks": len(context)}
        return self._decide(name, check, hit, reason, text, score, details=details)

    def _degenerate(self, name: str, check: Any, text: str) -> CheckResult:
        repeated = answers.repetition(text)
        if len(text.strip()) < check.min_chars:
            hit, reason = True, "the answer is empty"
        elif repeated > check.max_repetition:
            hit = True
            reason = (
                f"the answer repeats itself ({repeated:.0%} of its word trigrams are repeats; "
                f"the limit is {check.max_repetition:.0%})"
            )
        else:
            hit, reason = False, f"{repeated:.0%} repeated word trigrams"
        return self._decide(name, check, hit, reason, text, repeated)
