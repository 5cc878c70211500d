"""The Opik server's guardrails API, for the checks a server can run: PII and prompt injection.

Requests are built with the Opik SDK's own guards (`opik.guardrails.PII`, `PromptInjection`:
their `get_validation_configs()`) and sent with its `GuardrailsApiClient` to
`<server>/guardrails/api/v1/guardrails/validations` (`OpikConfig.guardrails_backend_host`),
authenticated as the SDK authenticates. `opik.guardrails.Guardrail.validate` itself is not used:
it opens a trace of its own through the SDK's context, while the service records its traces by
hand, so each check would land in a second, unrelated trace.

The server answers PII with `detected_entities` (type -> start, end, score, text), which is what
redaction needs, and injection with an `injection_score` probability. Any error (server down,
timeout, a 4xx) is OpikGuardrailsError; the engine then runs the local check and says so in the
span. After an error the server is left alone for RETRY_AFTER_SECONDS (Comet's hosted Opik has
no guardrails API, and a server that is down would otherwise cost every request its timeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from components.serving.rag.guardrails.findings import Finding

TIMEOUT_SECONDS = 5.0
RETRY_AFTER_SECONDS = 60.0


class OpikGuardrailsError(Exception):
    pass


class OpikGuardrails:
    def __init__(self, env: Mapping[str, str], timeout: float = TIMEOUT_SECONDS) -> None:
        from components.common import traces
        from components.common.settings import setting

        traces.prepare_opik()
        from opik import config as opik_config
        from opik.guardrails import rest_api_client

        config = opik_config.get_from_user_inputs(
            url_override=env.get("OPIK_URL_OVERRIDE", "").strip() or None,
            api_key=setting("OPIK_API_KEY", env, required=False),
            workspace=env.get("OPIK_WORKSPACE", "").strip() or None,
        )
        self.host = config.guardrails_backend_host
        self._lock = threading.Lock()
        self._failed_at = float("-inf")
        self._last_error = ""
        self._client = rest_api_client.GuardrailsApiClient(
            rest_api_client.build_httpx_client(config, timeout), self.host
        )

    def _validate(self, text: str, guard: Any) -> dict[str, Any]:
        import httpx
        from opik.rest_api import core as rest_api_core

        with self._lock:
            waited = time.monotonic() - self._failed_at
            if waited < RETRY_AFTER_SECONDS:
                raise OpikGuardrailsError(f"{self._last_error} (not retried for {waited:.0f} s)")
        try:
            response = self._client.validate(text, guard.get_validation_configs())
        except (httpx.HTTPError, rest_api_core.ApiError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            with self._lock:
                self._failed_at = time.monotonic()
                self._last_error = f"{type(exc).__name__}: {first}"
            raise OpikGuardrailsError(self._last_error) from None
        if not response.validations:
            raise OpikGuardrailsError("the server returned no validation")
        return response.validations[0].validation_details

    def pii(self, text: str, entities: list[str], threshold: float) -> list[Finding]:
        from opik.guardrails import PII

        details = self._validate(text, PII(blocked_entities=entities, threshold=threshold))
        found = []
        for entity, items in (details.get("detected_entities") or {}).items():
            for item in items or []:
                start, end = int(item["start"]), int(item["end"])
                score = float(item.get("score", 1.0))
                if 0 <= start < end <= len(text) and score >= threshold:
                    found.append(Finding.of(str(entity), text, start, end, score))
        return sorted(found, key=lambda f: (f.start, f.end, f.type))

    def injection(self, text: str, threshold: float) -> float:
        from opik.guardrails import PromptInjection

        details = self._validate(text, PromptInjection(threshold=threshold))
        try:
            return float(details["injection_score"])
        except (KeyError, TypeError, ValueError):
            raise OpikGuardrailsError("the server's answer has no injection_score") from None
