"""Monitoring job: score the RAG service's traces of the last window and raise a quality drop.

    python -m components.monitor --window-minutes 60 --min-traces 5 --min-quality 0.35 \
        --max-error-rate 0.2 --max-token-drift 1.0 --max-latency-drift 1.0 \
        --max-human-drop 0.2 --min-human-ratings 3 --max-guardrail-jump 0.2

Reads the traces of [end - window, end) and of the window before (for drift) from Opik, or
locally from the trace log; logs each trace's scores back (Opik feedback scores, or feedback
records in the log); writes report.json (the pipeline's property file); and on a drop emits the
quality-drop event; and on a jump of a guardrail's hit rate, the guardrail alert. The job
succeeds either way: the pipeline's condition on `quality_ok` decides how the run ends.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from components.common.contract import processing_output, write_json
from components.common.job import JobError, run_job

PROG = "monitor"


def _positive(kind: type) -> Any:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{raw!r}: expected 0 or more")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="components.monitor")
    parser.add_argument("--window-minutes", type=_positive(int), default=60)
    parser.add_argument("--min-traces", type=_positive(int), default=5)
    parser.add_argument("--min-quality", type=_positive(float), default=0.35)
    parser.add_argument("--max-error-rate", type=_positive(float), default=0.2)
    parser.add_argument("--max-token-drift", type=_positive(float), default=1.0)
    parser.add_argument("--max-latency-drift", type=_positive(float), default=1.0)
    parser.add_argument("--max-human-drop", type=_positive(float), default=0.2)
    parser.add_argument("--min-human-ratings", type=_positive(int), default=3)
    parser.add_argument("--max-guardrail-jump", type=_positive(float), default=0.2)
    parser.add_argument("--judge-sample", type=_positive(int), default=20)
    parser.add_argument("--window-end", help="ISO 8601 end of the window (default: now)")
    parser.add_argument("--execution-id", default="", help="the pipeline execution, for the event")
    args = parser.parse_args(argv)
    if args.window_minutes < 1:
        parser.error("--window-minutes: expected 1 or more")
    return args


def window_end(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(UTC)
    from components.monitor.sources import parse_time

    found = parse_time(raw)
    if found is None:
        raise JobError(f"--window-end {raw!r}: expected an ISO 8601 time")
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    from components.common.settings import llm_settings
    from components.monitor import events, metrics
    from components.monitor.report import Thresholds, summarise
    from components.monitor.sources import open_store

    end = window_end(args.window_end)
    start = end - timedelta(minutes=args.window_minutes)
    before = start - timedelta(minutes=args.window_minutes)
    store = open_store()
    found = store.fetch(before, end)
    current = [t for t in found if t.start >= start]
    previous = [t for t in found if t.start < start]
    llm = llm_settings()
    judge = metrics.Judge(llm) if llm else None
    scores = metrics.score_traces(current, judge, args.judge_sample)
    store.log_scores(metrics.as_feedback(scores))
    thresholds = Thresholds(
        min_traces=args.min_traces,
        min_quality=args.min_quality,
        max_error_rate=args.max_error_rate,
        max_token_drift=args.max_token_drift,
        max_latency_drift=args.max_latency_drift,
        max_human_drop=args.max_human_drop,
        min_human_ratings=args.min_human_ratings,
        max_guardrail_jump=args.max_guardrail_jump,
    )
    report = summarise(current, previous, scores, thresholds)
    report.update(
        window={"start": start.isoformat(), "end": end.isoformat(), "minutes": args.window_minutes},
        source=store.description,
        judge=judge.name if judge else None,
        execution=args.execution_id,
        event={"emitted": False},
    )
    report["guardrail_alert"]["event"] = {"emitted": False}
    if report["guardrail_alert"]["ok"] is False:
        detail = {
            **_window_detail(report, args.execution_id),
            "reason": report["guardrail_alert"]["message"],
            "guardrails": report["metrics"]["guardrails"],
        }
        sent = events.emit(detail, detail_type=events.GUARDRAIL_DETAIL_TYPE)
        report["guardrail_alert"]["event"] = {"emitted": True, **sent}
    if report["verdict"] == "quality_drop":
        detail = {
            **_window_detail(report, args.execution_id),
            "quality": report["metrics"]["quality"],
            "reason": report["reason"],
            "metrics": report["metrics"],
            "thresholds": report["thresholds"],
        }
        report["event"] = {"emitted": True, **events.emit(detail)}
    return report


def _window_detail(report: dict[str, Any], execution_id: str) -> dict[str, Any]:
    """What every monitoring event says of the run and the window it scored."""
    return {
        "pipeline": "llm-twin-monitoring",
        "execution": execution_id,
        "environment": os.environ.get("SM_PIPELINES_ENVIRONMENT", "local"),
        "window_start": report["window"]["start"],
        "window_end": report["window"]["end"],
        "traces": report["traces"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        report = run(args)
        write_json(processing_output("report") / "report.json", report)
        metrics = report["metrics"]
        print(
            f"{PROG}: {report['traces']} trace(s) from {report['window']['start']} to "
            f"{report['window']['end']} in {report['source']} "
            f"({report['previous_traces']} in the window before)",
            flush=True,
        )
        print(
            f"{PROG}: quality {metrics['quality']}, error rate {metrics['error_rate']}, "
            f"answer tokens {metrics['answer_tokens_mean']} (before "
            f"{metrics['previous_answer_tokens_mean']}), p95 latency {metrics['latency_p95_ms']} "
            f"ms (before {metrics['previous_latency_p95_ms']})",
            flush=True,
        )
        print(
            f"{PROG}: human rating {metrics['human_rating']} from {metrics['human_ratings']} "
            f"rating(s) (before {metrics['previous_human_rating']} from "
            f"{metrics['previous_human_ratings']})",
            flush=True,
        )
        rates = metrics["guardrails"]
        print(
            f"{PROG}: guardrail hit rates "
            + (
                ", ".join(
                    f"{name} {entry['hit_rate']:g} (before {entry['previous_hit_rate']})"
                    for name, entry in rates.items()
                )
                or "none (no guardrail verdicts in the traces)"
            ),
            flush=True,
        )
        alert = report["guardrail_alert"]
        if alert["ok"] is False:
            print(
                f"{PROG}: guardrail alert {alert['event']['id']} sent to "
                f"{alert['event']['destination']}: {alert['message']}",
                flush=True,
            )
        print(f"{PROG}: {report['verdict']}: {report['reason']}", flush=True)
        if report["event"]["emitted"]:
            print(
                f"{PROG}: quality-drop event {report['event']['id']} sent to "
                f"{report['event']['destination']}",
                flush=True,
            )
        return 0

    return run_job(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
