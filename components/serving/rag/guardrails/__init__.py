"""Guardrails of the RAG service: checks on the question before the model sees it and on the
answer before the caller does, each a span of the request's trace with its verdict (passed,
redacted, flagged, blocked).

  policy.py        the per-environment policy (policies/<env>.yaml), validated in one line
  engine.py        runs the checks as spans; GuardrailBlocked for a block; scrubs found values
  pii.py, keys.py  personal data (phonenumbers + validated patterns) and key-like strings
                   (detect-secrets' patterns, entropy)
  injection.py     prompt-injection and jailbreak patterns (injection_patterns.yaml)
  answers.py       grounding in the retrieved chunks; empty or repetitive answers
  opik_backend.py  PII and injection through the Opik server's guardrails API (backend: opik)

Nothing here downloads a model: every local check is patterns, checksums and word counts.
"""
