"""What a person sees while a local run goes: a live table on a terminal, one line per change
elsewhere, nothing but the outcome with --quiet; and the final table."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from sm_pipelines.local.execution import (
    EXECUTING,
    FAILED,
    NOT_EXECUTED,
    PENDING,
    SUCCEEDED,
    Execution,
    StepRecord,
)

_MARKS = {PENDING: "·", EXECUTING: "▶", SUCCEEDED: "✓", FAILED: "✗", NOT_EXECUTED: "-"}
_SPINNER = "|/-\\"
_BAR_WIDTH = 20


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f}s" if seconds < 120 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _note(step: StepRecord) -> str:
    if step.cache_source:
        return f"cache hit (from {step.cache_source})"
    if step.status == FAILED:
        return (step.failure_reason or "")[:160]
    if step.attempts > 1:
        return f"{step.attempts} attempts"
    if "Outcome" in step.properties:
        return f"outcome: {str(step.properties['Outcome']).lower()}"
    if "ModelPackageArn" in step.properties:
        return step.properties["ModelPackageArn"]
    # A training job's final metrics, as Studio lists them (e.g. how many preference pairs the
    # model learnt from).
    metrics = step.properties.get("FinalMetricDataList") or []
    if metrics:
        return ", ".join(f"{m['MetricName']}={m['Value']:g}" for m in metrics)[:160]
    # A Lambda's answers explain the branches after it (e.g. why evaluation did not run).
    outputs = step.properties.get("OutputParameters") or []
    return ", ".join(f"{o['Name']}={o['Value']}" for o in outputs)[:160]


def summary_table(execution: Execution) -> str:
    width = max([len(name) for name in execution.steps] + [4])
    lines = [
        f"{execution.pipeline}  execution {execution.id}  {execution.status} in "
        f"{_duration(execution.seconds())}",
        f"  {'step':<{width}}  {'type':<13} {'status':<11} {'time':>7}  note",
    ]
    for step in execution.steps.values():
        lines.append(
            f"  {step.name:<{width}}  {step.type:<13} {step.status:<11} "
            f"{_duration(step.seconds()):>7}  {_note(step)}".rstrip()
        )
    if execution.failure_reason:
        lines.append(f"  failure: {execution.failure_reason}")
    return "\n".join(lines)


class Progress:
    """A listener for the runner. `mode` is 'live', 'lines' or 'quiet'."""

    def __init__(
        self, mode: str, estimates: dict[str, float] | None = None, stream: TextIO | None = None
    ) -> None:
        self.mode = mode
        self.estimates = estimates or {}
        self.stream = stream or sys.stdout
        self._execution: Execution | None = None
        self._drawn = 0
        self._tick = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @staticmethod
    def mode_for(stream: TextIO, quiet: bool) -> str:
        if quiet:
            return "quiet"
        return "live" if stream.isatty() else "lines"

    def __call__(self, kind: str, execution: Execution, step: StepRecord | None) -> None:
        self._execution = execution
        if self.mode == "lines" and step is not None and step.status != PENDING:
            with self._lock:
                note = _note(step) if step.status in (FAILED, SUCCEEDED) else ""
                took = _duration(step.seconds()) if step.status != EXECUTING else ""
                text = f"{step.name}: {step.status} {took} {note}".rstrip()
                self.stream.write(f"[{_duration(execution.seconds()):>7}] {text}\n")
                self.stream.flush()
        if self.mode == "live" and self._thread is None and kind == "execution":
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def _bar(self, step: StepRecord) -> str:
        estimate = self.estimates.get(step.name)
        elapsed = step.seconds() or 0.0
        if not estimate or estimate < 5:
            return _SPINNER[self._tick % len(_SPINNER)]
        filled = min(_BAR_WIDTH, int(_BAR_WIDTH * elapsed / estimate))
        return "[" + "#" * filled + "." * (_BAR_WIDTH - filled) + f"] ~{_duration(estimate)}"

    def _frame(self) -> list[str]:
        execution = self._execution
        if execution is None:
            return []
        width = max(len(name) for name in execution.steps)
        lines = [f"{execution.pipeline} {execution.id}  {_duration(execution.seconds())}"]
        for step in execution.steps.values():
            extra = self._bar(step) if step.status == EXECUTING else _note(step)[:60]
            lines.append(
                f" {_MARKS.get(step.status, '?')} {step.name:<{width}}  {step.status:<11} "
                f"{_duration(step.seconds()):>7}  {extra}".rstrip()
            )
        return lines

    def _draw(self) -> None:
        with self._lock:
            frame = self._frame()
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            for line in frame:
                self.stream.write("\x1b[2K" + line + "\n")
            self.stream.flush()
            self._drawn = len(frame)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self._tick += 1
            self._draw()

    def finish(self, execution: Execution) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._draw()
        if self.mode == "quiet":
            reason = f": {execution.failure_reason}" if execution.failure_reason else ""
            self.stream.write(
                f"{execution.pipeline} {execution.id} {execution.status} in "
                f"{_duration(execution.seconds())}{reason}\n"
            )
        else:
            self.stream.write(summary_table(execution) + "\n")
        self.stream.flush()
