"""Monitoring as the view shows it: the RAG service's traces with their spans and feedback
scores (the local trace log), the monitoring reports' scores over time, and the alerts log.

A monitoring report is a property file with a `verdict` and numeric `metrics` (what
llm-twin-monitoring's `monitor` step writes as report.json); the reports are found through the
executions that wrote them, so a pipeline of any name that writes one is charted too."""

from __future__ import annotations

from typing import Any

from sm_pipelines.local.execution import list_executions
from sm_pipelines.ui.executions import property_files
from sm_pipelines.ui.source import ViewSource, json_lines, traces_file

LIMIT = 200


def _text(value: Any, limit: int = 400) -> str:
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, str)), "")
    return str(value or "")[:limit]


def traces(source: ViewSource) -> dict[str, Any]:
    path = traces_file(source.state)
    records = json_lines(path)
    feedback: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("kind") == "feedback" and isinstance(record.get("trace_id"), str):
            feedback.setdefault(record["trace_id"], []).append(
                {k: record.get(k) for k in ("name", "value", "source", "reason", "time")}
            )
    found = []
    for record in reversed(records):
        if record.get("kind") != "trace":
            continue
        metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
        found.append(
            {
                "id": record.get("id"),
                "name": record.get("name"),
                "start": record.get("start_time"),
                "end": record.get("end_time"),
                "query": _text(record.get("input")),
                "answer": _text(record.get("output")),
                "error": (record.get("error_info") or {}).get("message"),
                "latency_ms": metadata.get("latency_ms") or metadata.get("total_latency_ms"),
                "spans": [
                    {
                        "id": span.get("id"),
                        "parent": span.get("parent_span_id"),
                        "name": span.get("name"),
                        "type": span.get("type"),
                        "start": span.get("start_time"),
                        "end": span.get("end_time"),
                        "latency_ms": (span.get("metadata") or {}).get("latency_ms"),
                        "error": (span.get("error_info") or {}).get("message"),
                    }
                    for span in record.get("spans") or []
                    if isinstance(span, dict)
                ],
                "feedback": feedback.get(str(record.get("id")), []),
            }
        )
        if len(found) >= LIMIT:
            break
    return {"file": str(path), "traces": found}


def _numbers(report: Any) -> dict[str, float]:
    metrics = report.get("metrics") if isinstance(report, dict) else None
    return {
        k: float(v)
        for k, v in (metrics or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def reports(source: ViewSource) -> list[dict[str, Any]]:
    """Monitoring reports, oldest first (the charts' time axis)."""
    found = []
    for execution in list_executions(source.state)[:LIMIT]:
        for name, record in execution.steps.items():
            if record.status != "Succeeded" or not record.properties.get("ProcessingOutputConfig"):
                continue
            for item in property_files(source, execution, name):
                report = item.get("content")
                if isinstance(report, dict) and "verdict" in report and _numbers(report):
                    found.append(
                        {
                            "execution": execution.id,
                            "pipeline": execution.pipeline,
                            "step": name,
                            "time": execution.start,
                            "verdict": report.get("verdict"),
                            "reason": report.get("reason"),
                            "traces": report.get("traces"),
                            "metrics": _numbers(report),
                        }
                    )
    return sorted(found, key=lambda r: r["time"])


def alerts(source: ViewSource) -> list[dict[str, Any]]:
    records = json_lines(source.state.root / "alerts.jsonl")
    return [
        {k: r.get(k) for k in ("time", "rule", "topic", "message", "delivery_error")}
        for r in reversed(records[-LIMIT:])
    ]
