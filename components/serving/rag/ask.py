"""Ask the twin one question on this machine, end to end:

    python -m components.serving.rag.ask --state .sm-local "How do you ship a model safely?"

Starts the local model server (the endpoint deployed under <state>) and the RAG service, each in
its own process on a free loopback port, asks, prints the answer, its sources and where the trace
went, then stops both (the service flushes its traces as it stops).

    python -m components.serving.rag.ask "..." --feedback down --better-answer "..."

rates the answer too (POST /feedback: up/down or 0..1, --comment, --better-answer): the record
people's ratings leave, which the CT pipeline's preferences step turns into preference pairs.

The guardrails' verdicts follow the answer, and the trace's `guardrail:*` spans are read back
from the local trace log. A question a guardrail blocks (HTTP 422) prints which guardrail and
why, and where its trace went, then exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from components.common import local_endpoints, traces
from components.common.job import JobError, run_job
from components.serving.rag.config import ENDPOINT_VARIABLE, single_local_endpoint

PROG = "ask"
STARTUP_SECONDS = 300.0
ANSWER_SECONDS = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Child:
    """A server process whose output is kept (and shown only if it fails to start)."""

    def __init__(self, name: str, command: list[str], ready: str) -> None:
        self.name = name
        self.ready_marker = ready
        self.lines: deque[str] = deque(maxlen=40)
        self.ready = threading.Event()
        self.ready_line = ""
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._read, name=f"{name}-output", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if self.ready_marker in line and not self.ready.is_set():
                self.ready_line = line.strip()
                self.ready.set()

    def wait_ready(self, deadline: float) -> None:
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                why = "exited" if self.process.poll() is not None else "did not start in time"
                tail = "\n".join(f"  | {line}" for line in list(self.lines)[-8:])
                raise JobError(f"the {self.name} {why}:\n{tail}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            # SIGINT: both servers stop gracefully on it (the RAG service flushes its traces).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _post(url: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    import httpx

    try:
        response = httpx.post(url, json=payload, timeout=ANSWER_SECONDS)
    except httpx.HTTPError as exc:
        raise JobError(f"the RAG service at {url} did not answer: {exc}") from None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"detail": response.text[:200]}


def _health(url: str) -> dict[str, Any]:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}


def print_answer(question: str, body: dict[str, Any]) -> None:
    print(f"question: {question}")
    print(f"answer:   {body['answer']}")
    print("sources:")
    for index, source in enumerate(body["sources"], start=1):
        print(
            f"  {index}. [{source['type']}] {source['title']} ({source['author']}), "
            f"score {source['score']:.3f}, id {source['id']}"
        )
        print(f"     {source['snippet'][:120]}")
    if not body["sources"]:
        print("  (none: the store holds no chunks for this question)")
    prompt = body.get("prompt")
    if prompt:
        print(f"prompt:   {prompt_line(prompt)}")


def prompt_line(prompt: dict[str, Any]) -> str:
    return (
        f"{prompt.get('name')} {prompt.get('version') or 'unregistered'} "
        f"(commit {prompt.get('commit')})"
    )


def where_the_trace_went(trace_id: str | None, tracing: dict[str, Any]) -> str:
    if not trace_id:
        return "no trace (tracing is off: OPIK_TRACK_DISABLE)"
    destination = tracing.get("destination", "?")
    path = traces.local_traces_path()
    if path is not None and not traces.opik_configured():
        records, _ = traces.read_records(path)
        found = [r for r in records if r.get("kind") == "trace" and r.get("id") == trace_id]
        if found:
            metadata = found[-1].get("metadata") or {}
            prompt = {
                "name": metadata.get("prompt_name"),
                "version": metadata.get("prompt_version"),
                "commit": metadata.get("prompt_commit"),
            }
            # A request blocked before generation used no prompt.
            used = f" (prompt {prompt_line(prompt)})" if prompt["name"] else " (no prompt used)"
            return f"trace {trace_id}{used} written to {path}"
        return f"trace {trace_id} NOT found in {path} ({tracing})"
    return f"trace {trace_id} sent to {destination} (exported {tracing.get('exported', '?')})"


def guardrails_line(verdicts: list[dict[str, Any]]) -> str:
    """`input.pii passed, ..., output.grounding flagged (why)`: a reason only where it matters."""
    if not verdicts:
        return "off (RAG_GUARDRAILS=off)"
    return ", ".join(
        f"{v['name']} {v['verdict']}" + (f" ({v['reason']})" if v["verdict"] != "passed" else "")
        for v in verdicts
    )


def verdict_of(span: dict[str, Any]) -> str:
    return str((span.get("output") or {}).get("verdict", "?"))


def guardrail_spans(trace_id: str | None) -> str | None:
    """The verdicts of the trace's guardrail spans as the local trace log holds them, or None
    when traces go to Opik (or nowhere)."""
    path = traces.local_traces_path()
    if not trace_id or path is None or traces.opik_configured():
        return None
    records, _ = traces.read_records(path)
    for record in records:
        if record.get("kind") == "trace" and record.get("id") == trace_id:
            checks = [
                f"{span['name'].removeprefix('guardrail:')} {verdict_of(span)}"
                for span in record.get("spans") or []
                if str(span.get("name", "")).startswith("guardrail:")
            ]
            return f"trace {trace_id} guardrail spans: {', '.join(checks) or 'none'}"
    return None


def where_the_feedback_went(trace_id: str, answer: dict[str, Any]) -> str:
    path = traces.local_traces_path()
    if path is not None and not traces.opik_configured():
        records, _ = traces.read_records(path)
        found = [
            r
            for r in records
            if r.get("kind") == "feedback"
            and r.get("trace_id") == trace_id
            and r.get("source") == "human"
        ]
        if found:
            better = " with a better answer" if found[-1].get("better_answer") else ""
            return (
                f"feedback record {found[-1]['name']}={found[-1]['value']:g}{better} on trace "
                f"{trace_id} written to {path}"
            )
        return f"feedback on trace {trace_id} NOT found in {path}"
    return f"feedback {answer.get('name')}={answer.get('value')} on trace {trace_id} queued to Opik"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="components.serving.rag.ask")
    parser.add_argument("question", help="what to ask the twin")
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("SM_PIPELINES_STATE") or ".sm-local"),
        help="local state folder (default: .sm-local or $SM_PIPELINES_STATE)",
    )
    parser.add_argument("--endpoint", help="local endpoint (default: the one under --state)")
    parser.add_argument("--author", help="only this author's documents")
    parser.add_argument("--top-k", type=int, help="chunks given to the model")
    parser.add_argument(
        "--session", help="the conversation this question belongs to (the trace's thread_id)"
    )
    parser.add_argument("--feedback", help='rate the answer: "up", "down" or a number 0..1')
    parser.add_argument("--comment", help="with --feedback: why")
    parser.add_argument("--better-answer", help="with --feedback: the answer it should have given")
    args = parser.parse_args(argv)
    if (args.comment or args.better_answer) and args.feedback is None:
        parser.error("--comment and --better-answer go with --feedback")
    if args.feedback is not None:
        with contextlib.suppress(ValueError):  # "up"/"down" stay words: the service validates
            args.feedback = float(args.feedback)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state = args.state.resolve()
    if not state.is_dir():
        raise JobError(f"--state {args.state}: no such folder (run `make run` first)")
    endpoint = args.endpoint or os.environ.get(ENDPOINT_VARIABLE) or single_local_endpoint(state)
    record = local_endpoints.read(state, endpoint)
    if record is None or record.get("EndpointStatus") != "InService":
        raise JobError(f"endpoint {endpoint} is not deployed under {state}")
    # The service writes its trace log here unless Opik is configured; read it back from here.
    os.environ.setdefault(traces.STATE_VARIABLE, str(state))
    model_port = free_port()
    model_url = f"http://127.0.0.1:{model_port}"
    python = sys.executable
    model_command = [python, "-m", "components.serving.model_server", "--state", str(state)]
    rag_command = [python, "-m", "components.serving.rag", "--state", str(state), "--port", "0"]
    # Both load their models at once; the service only needs the model server's address.
    model = Child(
        "model server",
        [*model_command, "--endpoint", endpoint, "--port", str(model_port)],
        "model_server: serving",
    )
    rag = Child(
        "RAG service",
        [*rag_command, "--endpoint", endpoint, "--runtime-url", model_url],
        "rag: serving on ",
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        model.wait_ready(deadline)
        rag.wait_ready(deadline)
        rag_url = rag.ready_line.split()[3]
        config = record.get("EndpointConfigName")
        print(f"{PROG}: model server for {endpoint} ({config}) at {model_url}")
        print(f"{PROG}: RAG service at {rag_url}")
        payload: dict[str, Any] = {"query": args.question}
        if args.author:
            payload["author"] = args.author
        if args.top_k is not None:
            payload["top_k"] = args.top_k
        if args.session:
            payload["session_id"] = args.session
        status, body = _post(f"{rag_url}/rag", payload)
        if status != 200 and not body.get("guardrail"):
            raise JobError(f"the RAG service answered HTTP {status}: {body.get('detail')}")
        rated: dict[str, Any] | None = None
        if status != 200:
            print(f"question: {args.question}")
            print(f"blocked:  HTTP {status}, {body.get('detail')}")
        else:
            print_answer(args.question, body)
            print(f"guardrails: {guardrails_line(body.get('guardrails') or [])}")
        if status == 200 and args.feedback is not None and body.get("trace_id"):
            feedback: dict[str, Any] = {"trace_id": body["trace_id"], "score": args.feedback}
            if args.comment:
                feedback["comment"] = args.comment
            if args.better_answer:
                feedback["better_answer"] = args.better_answer
            status, rated = _post(f"{rag_url}/feedback", feedback)
            if status >= 300:
                raise JobError(f"the feedback was refused: HTTP {status}: {rated.get('detail')}")
        tracing = _health(rag_url).get("tracing") or {"destination": "?"}
    finally:
        # The service first: it flushes its traces as it stops.
        rag.stop()
        model.stop()
    print(f"{PROG}: {where_the_trace_went(body.get('trace_id'), tracing)}")
    spans = guardrail_spans(body.get("trace_id"))
    if spans:
        print(f"{PROG}: {spans}")
    if status != 200:
        raise JobError(f"the RAG service answered HTTP {status}: {body.get('detail')}")
    if rated is not None:
        print(f"{PROG}: {where_the_feedback_went(body['trace_id'], rated)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job(PROG, lambda: main()))
