"""Alerts for local runs: the same routes, patterns and messages as in AWS, delivered to the
console, to <state>/alerts.jsonl and, if configured, to a webhook (retried off the run's path,
reported when unreachable, never failing the run)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TextIO

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.loader import Definitions
from sm_pipelines.events.patterns import matches, render
from sm_pipelines.events.rules import alert_rules
from sm_pipelines.local.state import LocalState

ALERTS_FILE = "alerts.jsonl"


class AlertRouter:
    def __init__(
        self,
        definitions: Definitions,
        env: EnvironmentConfig,
        state: LocalState,
        stream: TextIO | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 2.0,
    ) -> None:
        self.rules = alert_rules(definitions, definitions.alerts, env)
        self.state = state
        self.stream = stream or sys.stderr
        self.webhook = env.local.alert_webhook if env.local else None
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._posts = ThreadPoolExecutor(max_workers=1) if self.webhook else None

    def __call__(self, event: dict[str, Any]) -> None:
        for rule in self.rules:
            if not rule.enabled or rule.pattern is None or not matches(rule.pattern, event):
                continue
            target = rule.targets[0]
            message = render(dict(target.input_paths or ()), target.input_template or "", event)
            record = {
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "rule": rule.name,
                "topic": target.arn,
                "message": message,
                "event": event,
            }
            self.stream.write(f"ALERT {rule.name}: {message}\n")
            self.stream.flush()
            self._append(record)
            if self._posts is not None:
                self._posts.submit(self._post, record)

    def _append(self, record: dict[str, Any]) -> None:
        self.state.root.mkdir(parents=True, exist_ok=True)
        with (self.state.root / ALERTS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def _post(self, record: dict[str, Any]) -> None:
        body = json.dumps({k: record[k] for k in ("rule", "topic", "message", "event")}).encode()
        error = ""
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                str(self.webhook),
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    if 200 <= response.status < 300:
                        return
                    error = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.attempts:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        note = (
            f"alert webhook {self.webhook} unreachable after {self.attempts} attempts "
            f"({error}); the alert is in {self.state.root / ALERTS_FILE}"
        )
        self.stream.write(f"WARNING {note}\n")
        self._append({**record, "delivery_error": note})

    def close(self) -> None:
        """Wait for webhook deliveries still in flight."""
        if self._posts is not None:
            self._posts.shutdown(wait=True)
