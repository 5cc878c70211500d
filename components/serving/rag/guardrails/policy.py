"""The guardrail policy of an environment: which checks run, what each does on a hit, and its
thresholds, from YAML.

The service reads `RAG_GUARDRAILS_POLICY` (a YAML file) when set, else the policy shipped for its
environment (`SM_PIPELINES_ENVIRONMENT`, default local): policies/<environment>.yaml beside this
module, so the serving image, which copies components/ and nothing of definitions/, carries it.
`RAG_GUARDRAILS=off` turns every check off (the benchmark's baseline; never for a real service).

Every mistake is one line naming the file and the field: an unknown check or key, a wrong type,
an action the check cannot take (only text checks can redact), a threshold out of its range.

    backend: local | opik     opik: pii and injection through the Opik server's guardrails API
                              when a server is configured (OPIK_URL_OVERRIDE / OPIK_API_KEY);
                              local otherwise, and whenever the server cannot answer
    input:  pii, secrets, injection, length, topic
    output: pii, secrets, grounding, degenerate
    each:   enabled (true), action (block | redact | flag), and the check's thresholds
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from components.common.job import JobError
from components.serving.rag.guardrails.pii import ENTITIES

POLICY_VARIABLE = "RAG_GUARDRAILS_POLICY"
SWITCH_VARIABLE = "RAG_GUARDRAILS"
POLICIES = Path(__file__).with_name("policies")

Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    action: Literal["block", "flag"] = "block"


class TextCheck(Check):
    """A check that finds spans of text, which it can also redact."""

    action: Literal["block", "redact", "flag"] = "redact"


class PII(TextCheck):
    entities: list[str] = Field(default_factory=lambda: list(ENTITIES), min_length=1)
    # Numbers written without +<country> are read as this region's.
    phone_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    # Opik backend only: the server's detection score a finding needs.
    threshold: Share = 0.5

    @field_validator("entities")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ENTITIES))
        if unknown:
            raise ValueError(
                f"unknown entity {unknown[0]!r}; expected some of {', '.join(ENTITIES)}"
            )
        return value


class Injection(Check):
    # Opik backend only: the classifier's injection probability that blocks.
    threshold: Share = 0.5


class Length(Check):
    max_chars: int = Field(default=2000, ge=1, le=100_000)
    max_words: int = Field(default=400, ge=1, le=20_000)


class Topic(Check):
    action: Literal["block", "flag"] = "flag"
    # Cosine similarity of the question to the closest chunk of the author's corpus.
    min_similarity: Share = 0.2


class Grounding(Check):
    action: Literal["block", "flag"] = "flag"
    min_score: Share = 0.5
    sentence_support: Share = 0.5


class Degenerate(Check):
    min_chars: int = Field(default=1, ge=1, le=10_000)
    max_repetition: Share = 0.5


class InputChecks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pii: PII = Field(default_factory=PII)
    secrets: TextCheck = Field(default_factory=TextCheck)
    injection: Injection = Field(default_factory=Injection)
    length: Length = Field(default_factory=Length)
    topic: Topic = Field(default_factory=Topic)


class OutputChecks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pii: PII = Field(default_factory=PII)
    secrets: TextCheck = Field(default_factory=TextCheck)
    grounding: Grounding = Field(default_factory=Grounding)
    degenerate: Degenerate = Field(default_factory=Degenerate)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "opik"] = "local"
    input: InputChecks = Field(default_factory=InputChecks)
    output: OutputChecks = Field(default_factory=OutputChecks)
    # Where it was read from (not a key of the YAML).
    _source: str = PrivateAttr(default="defaults")

    @property
    def source(self) -> str:
        return self._source

    def enabled(self) -> list[str]:
        """`stage.check` for every check that runs."""
        return [
            f"{stage}.{name}"
            for stage in ("input", "output")
            for name, check in getattr(self, stage)
            if check.enabled
        ]


def _problem(error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        parent = where.rsplit(".", 1)[0] if "." in where else ""
        stage = parent.split(".")[0]
        if parent in ("input", "output"):
            names = InputChecks if stage == "input" else OutputChecks
            known = ", ".join(names.model_fields)
            return f"{where}: unknown check; {stage} checks are {known}"
        return f"{where}: unknown key"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where or 'policy'}: {message}"


def parse_policy(data: Any, source: str) -> Policy:
    if not isinstance(data, dict):
        raise JobError(f"{source}: expected a mapping with backend, input and output")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise JobError(f"{source}: {_problem(exc.errors()[0])}") from None
    policy._source = source
    return policy


def load_policy(path: Path) -> Policy:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobError(f"{path}: cannot read the guardrail policy: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise JobError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_policy(data, str(path))


def policy_from_env(env: Mapping[str, str] | None = None) -> Policy | None:
    """The service's policy, or None when RAG_GUARDRAILS=off."""
    env = os.environ if env is None else env
    switch = env.get(SWITCH_VARIABLE, "").strip().lower()
    if switch in ("off", "false", "0"):
        return None
    if switch not in ("", "on", "true", "1"):
        raise JobError(f"{SWITCH_VARIABLE}={switch!r}: expected on or off")
    explicit = env.get(POLICY_VARIABLE, "").strip()
    if explicit:
        return load_policy(Path(explicit))
    environment = env.get("SM_PIPELINES_ENVIRONMENT", "").strip() or "local"
    path = POLICIES / f"{environment}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in POLICIES.glob("*.yaml")))
        raise JobError(
            f"no guardrail policy for environment {environment!r} (shipped: {shipped}): add "
            f"{path.name} under {POLICIES} or set {POLICY_VARIABLE} to a policy file"
        )
    return load_policy(path)
