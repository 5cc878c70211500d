"""Request tracing that never fails or slows a request.

The request path only records: a RequestTrace collects spans (name, parent, timestamps, input,
output, metadata) in plain Python objects, then `Tracer.submit` puts it on a bounded queue without
blocking. One background thread exports: to Opik through the SDK's client API (which batches and
sends on its own threads), or to the local JSONL log (components/common/traces.py). An export
error, or a full queue, is counted and logged once in a while, never raised.

Where traces go is Opik's own configuration (components/common/opik_config.py: variables, then
~/.opik.config); `Tracer.description` is the line the service prints at start. With Opik's
track_disable (OPIK_TRACK_DISABLE=true) no request is traced and responses carry no trace id.
A trace of a multi-turn conversation carries the caller's session as Opik's `thread_id`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from components.common import opik_config, traces
from components.common.ids import uuid7

QUEUE_SIZE = 1000
# One warning per this many seconds at most: a dead sink must not flood the service log.
WARN_EVERY_SECONDS = 60.0
# Seconds the Opik client gets to send its queued traces before comments on them are added.
FLUSH_FOR_COMMENTS = 10


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SpanRecord:
    name: str
    type: str
    parent_span_id: str | None
    id: str = field(default_factory=uuid7)
    start_time: datetime = field(default_factory=_now)
    end_time: datetime | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    provider: str | None = None
    usage: dict[str, int] | None = None
    error_info: dict[str, str] | None = None
    latency_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_span_id": self.parent_span_id,
            "name": self.name,
            "type": self.type,
            "start_time": self.start_time.isoformat(),
            "end_time": (self.end_time or self.start_time).isoformat(),
            "input": self.input,
            "output": self.output,
            "metadata": self.metadata,
            "model": self.model,
            "provider": self.provider,
            "usage": self.usage,
            "error_info": self.error_info,
        }


def error_info(exc: BaseException) -> dict[str, str]:
    # Opik's ErrorInfo; the traceback stays in the service log, not in the trace.
    return {"exception_type": type(exc).__name__, "message": str(exc), "traceback": ""}


class RequestTrace:
    """One request's trace, built on the request path and exported later."""

    enabled = True

    def __init__(self, name: str, input: dict[str, Any], tags: list[str]) -> None:
        self.id = uuid7()
        self.name = name
        self.input = input
        self.tags = list(tags)
        self.start_time = _now()
        self.end_time: datetime | None = None
        self.output: dict[str, Any] | None = None
        self.metadata: dict[str, Any] = {}
        self.error_info: dict[str, str] | None = None
        self.spans: list[SpanRecord] = []
        # Opik's thread: the traces of one conversation (the request's session id), or None.
        self.thread_id: str | None = None

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        type: str = "general",
        parent: SpanRecord | None = None,
        input: dict[str, Any] | None = None,
    ) -> Iterator[SpanRecord]:
        record = SpanRecord(name, type, parent.id if parent else None, input=input)
        self.spans.append(record)
        started = time.perf_counter()
        try:
            yield record
        except BaseException as exc:
            record.error_info = error_info(exc)
            raise
        finally:
            record.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            record.end_time = _now()
            record.metadata.setdefault("latency_ms", record.latency_ms)

    def finish(
        self,
        output: dict[str, Any] | None,
        metadata: dict[str, Any],
        error: BaseException | None = None,
    ) -> None:
        self.end_time = _now()
        self.output = output
        self.metadata.update(metadata)
        if error is not None:
            self.error_info = error_info(error)

    def to_json(self, project: str) -> dict[str, Any]:
        return {
            "kind": "trace",
            "id": self.id,
            "name": self.name,
            "project_name": project,
            "start_time": self.start_time.isoformat(),
            "end_time": (self.end_time or self.start_time).isoformat(),
            "input": self.input,
            "output": self.output,
            "metadata": self.metadata,
            "tags": self.tags,
            "error_info": self.error_info,
            "thread_id": self.thread_id,
            "spans": [span.to_json() for span in self.spans],
        }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NullTrace:
    """What a request gets when tracing is off: the same API, doing nothing."""

    enabled = False
    id = None

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}
        self.thread_id: str | None = None

    @contextlib.contextmanager
    def span(self, name: str, type: str = "general", **kwargs: Any) -> Iterator[SpanRecord]:
        # A throwaway record (fixed id and time, so no clock or random calls) that the caller
        # may write to; nothing keeps it.
        yield SpanRecord(name, type, None, id="", start_time=_EPOCH)

    def finish(self, *args: Any, **kwargs: Any) -> None:
        pass


class Sink(Protocol):
    description: str

    def export(self, batch: list[RequestTrace]) -> None: ...

    def flush(self, timeout: float) -> None: ...

    def close(self, timeout: float) -> None: ...


class JsonlSink:
    def __init__(self, path: Path, project: str, description: str | None = None) -> None:
        self.path = path
        self.project = project
        self.description = description or f"local trace log {path}"

    def export(self, batch: list[Any]) -> None:
        # Traces and feedback items (components.serving.rag.feedback) alike: one write.
        traces.append_records(self.path, [item.to_json(self.project) for item in batch])

    def flush(self, timeout: float) -> None:
        pass

    def close(self, timeout: float) -> None:
        pass


class OpikSink:
    """Traces and spans through the Opik client, which batches and posts on its own threads."""

    def __init__(self, client: Any, project: str, description: str | None = None) -> None:
        self.client = client
        self.project = project
        url = client.config.url_override
        self.description = description or f"Opik project {project!r} at {url}"

    def export(self, batch: list[Any]) -> None:
        scores = [item.to_opik(self.project) for item in batch if hasattr(item, "to_opik")]
        if scores:
            # People's ratings, as feedback scores on the traces they rate.
            self.client.log_traces_feedback_scores(scores)
        for trace in batch:
            if not isinstance(trace, RequestTrace):
                continue
            self.client.trace(
                id=trace.id,
                name=trace.name,
                start_time=trace.start_time,
                end_time=trace.end_time,
                input=trace.input,
                output=trace.output,
                metadata=trace.metadata,
                tags=trace.tags,
                error_info=trace.error_info,
                thread_id=trace.thread_id,
                project_name=self.project,
            )
            for span in trace.spans:
                self.client.span(
                    trace_id=trace.id,
                    id=span.id,
                    parent_span_id=span.parent_span_id,
                    name=span.name,
                    type=span.type,
                    start_time=span.start_time,
                    end_time=span.end_time,
                    input=span.input,
                    output=span.output,
                    metadata=span.metadata,
                    model=span.model,
                    provider=span.provider,
                    usage=span.usage,
                    error_info=span.error_info,
                    project_name=self.project,
                )
        # Last: the rated trace may be in this very batch.
        comments = [
            (item.trace_id, item.opik_comment())
            for item in batch
            if hasattr(item, "opik_comment") and item.opik_comment()
        ]
        if comments:
            # A comment is a direct REST call, not batched: the rated trace must have left the
            # client's own queue first, or Opik may not know the trace yet.
            self.client.flush(timeout=FLUSH_FOR_COMMENTS)
            for trace_id, text in comments:
                self.client.rest_client.traces.add_trace_comment(trace_id, text=text)

    def flush(self, timeout: float) -> None:
        self.client.flush(timeout=max(1, int(timeout)))

    def close(self, timeout: float) -> None:
        self.client.end(timeout=max(1, int(timeout)))


class Tracer:
    """Hands finished traces to a sink on a background thread; counts what happened to them."""

    def __init__(self, sink: Sink | None, queue_size: int = QUEUE_SIZE) -> None:
        self.sink = sink
        self.submitted = self.exported = self.dropped = self.failed = 0
        self.last_error: str | None = None
        self._last_warning = 0.0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None
        if sink is not None:
            self._thread = threading.Thread(target=self._run, name="rag-tracer", daemon=True)
            self._thread.start()

    @property
    def enabled(self) -> bool:
        return self.sink is not None

    @property
    def description(self) -> str:
        return (
            self.sink.description
            if self.sink
            else "none: tracking is off (Opik's track_disable, OPIK_TRACK_DISABLE)"
        )

    def start(self, name: str, input: dict[str, Any], tags: list[str]) -> RequestTrace | NullTrace:
        if self.sink is None:
            return NullTrace()
        return RequestTrace(name, input, tags)

    def submit(self, trace: RequestTrace | NullTrace) -> None:
        if not isinstance(trace, RequestTrace) or self.sink is None:
            return
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(trace)
            self.submitted += 1
        except queue.Full:
            self.dropped += 1
            self._done(1)
            self._warn("trace queue full; dropping traces")

    def submit_feedback(self, item: Any) -> bool:
        """Queue a feedback item (exported as the traces are); False when it cannot be taken."""
        if self.sink is None:
            return False
        with self._idle:
            self._pending += 1
        try:
            self._queue.put_nowait(item)
            return True
        except queue.Full:
            self.dropped += 1
            self._done(1)
            self._warn("trace queue full; dropping feedback")
            return False

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            if self._pending <= 0:
                self._idle.notify_all()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            # Drain what queued up meanwhile: one write or one round of client calls per batch.
            with contextlib.suppress(queue.Empty):
                while len(batch) < 100:
                    item = self._queue.get_nowait()
                    if item is None:
                        self._export(batch)
                        return
                    batch.append(item)
            self._export(batch)

    def _export(self, batch: list[Any]) -> None:
        assert self.sink is not None
        try:
            self.sink.export(batch)
            self.exported += len(batch)
        except Exception as exc:
            self.failed += len(batch)
            self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self._warn(f"trace export to {self.sink.description} failed: {self.last_error}")
        finally:
            self._done(len(batch))

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            self._last_warning = now
            print(f"rag: warning: {message}", file=sys.stderr, flush=True)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted trace is handed to the sink, then flush the sink."""
        if self.sink is None:
            return True
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        try:
            self.sink.flush(max(0.1, deadline - time.monotonic()))
        except Exception as exc:
            self._warn(f"trace flush failed: {type(exc).__name__}: {exc}")
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        if self.sink is None or self._thread is None:
            return
        self.flush(timeout)
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1)
        self._thread.join(timeout=1)
        with contextlib.suppress(Exception):
            self.sink.close(timeout)
        self._thread = None

    def stats(self) -> dict[str, Any]:
        return {
            "destination": self.description,
            "submitted": self.submitted,
            "exported": self.exported,
            "dropped": self.dropped,
            "failed": self.failed,
            "last_error": self.last_error,
        }


def tracer_from_env(env: Mapping[str, str] | None = None) -> Tracer:
    """Opik when Opik's configuration names a server, else the local JSONL log; no tracing with
    Opik's track_disable.

    Raises ValueError when tracing is on but has nowhere to go, or Opik's configuration is
    wrong: the caller says how to fix it.
    """
    from components.common.job import JobError

    env = os.environ if env is None else env
    try:
        settings = traces.opik_settings(env)
    except JobError as exc:
        raise ValueError(str(exc)) from None
    if settings.track_disable:
        return Tracer(None)
    if settings.configured:
        try:
            client = opik_config.opik_client(settings)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ValueError(f"cannot set up Opik tracing: {type(exc).__name__}: {first}") from None
        return Tracer(OpikSink(client, settings.project, settings.describe()))
    path = traces.local_traces_path(env)
    if path is None:
        raise ValueError(
            f"no Opik server is configured ({settings.url_source}) and no local trace log "
            f"either: set {traces.TRACES_FILE_VARIABLE}, or start with --state DIR, or set "
            "OPIK_TRACK_DISABLE=true"
        )
    path = path.resolve()
    return Tracer(
        JsonlSink(path, settings.project, f"local trace log {path} ({settings.url_source})")
    )
