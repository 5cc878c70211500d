"""Guardrail hit rates of a window of traces, and a jump against the window before.

The RAG service records each request's verdicts in its trace's metadata (`guardrails`: check ->
passed, redacted, flagged or blocked; components/serving/rag/guardrails). Per check: the share
of the window's traces on which it blocked, redacted or flagged, and `hit_rate`, the share on
which it did any of the three. `jump` is hit_rate minus the window before's, in points of share
(0.25: a quarter more of the requests). A jump above max_guardrail_jump, with at least
min_traces traces in both windows, is a guardrail alert: a wave of injection attempts, a new
client sending e-mail addresses, a model that stopped answering from its context. It is not a
quality drop: retraining cannot help with what people send, so the alert goes to people (its
own event, `LLM Twin Guardrail Alert`, and alert route) and starts no pipeline.
"""

from __future__ import annotations

from typing import Any

from components.monitor.sources import TraceView

HITS = ("blocked", "redacted", "flagged")


def _rates(window: list[TraceView], name: str) -> dict[str, float]:
    seen = [t.guardrails[name] for t in window if name in t.guardrails]
    if not seen:
        return {}
    rates = {hit: round(seen.count(hit) / len(window), 4) for hit in HITS}
    rates["hit_rate"] = round(sum(seen.count(hit) for hit in HITS) / len(window), 4)
    return rates


def hit_rates(current: list[TraceView], previous: list[TraceView]) -> dict[str, dict[str, Any]]:
    """Per check: blocked, redacted, flagged and hit_rate now, previous_hit_rate and jump."""
    names = sorted({name for t in current + previous for name in t.guardrails})
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        now, before = _rates(current, name), _rates(previous, name)
        entry: dict[str, Any] = {hit: now.get(hit, 0.0) for hit in (*HITS, "hit_rate")}
        entry["previous_hit_rate"] = before.get("hit_rate")
        entry["jump"] = round(entry["hit_rate"] - before["hit_rate"], 4) if now and before else None
        found[name] = entry
    return found


def jump_check(rates: dict[str, dict[str, Any]], limit: float, applies: bool) -> dict[str, Any]:
    """{ok, message, checks}: ok None when there is too little to compare."""
    if not applies:
        return {"ok": None, "message": "skipped", "checks": []}
    jumped = [
        (name, entry)
        for name, entry in rates.items()
        if entry["jump"] is not None and entry["jump"] > limit
    ]
    if not jumped:
        return {"ok": True, "message": "no guardrail hit rate jumped", "checks": []}
    message = "; ".join(
        f"guardrail {name} hit rate {entry['hit_rate']:g} (before {entry['previous_hit_rate']:g}) "
        f"jumped by {entry['jump']:g}, above MaxGuardrailJump {limit:g}"
        for name, entry in jumped
    )
    return {"ok": False, "message": message, "checks": [name for name, _ in jumped]}
