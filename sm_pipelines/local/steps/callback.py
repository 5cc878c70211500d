"""Callback steps: the step posts its message and waits for someone to answer.

In AWS the message goes to the step's SQS queue and an outside process answers with
SendPipelineExecutionStepSuccess/Failure. Locally the message is a line of
`<state>/queues/<queue>.jsonl` (the queue's name is the last segment of SqsQueueUrl) holding the
token, and `sm-pipelines callback success|failure TOKEN [--output k=v] [--reason text]` answers
by writing `<state>/callbacks/<token>.json`; the step's outputs are the answer's.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sm_pipelines.errors import UserError
from sm_pipelines.files import read_json
from sm_pipelines.local.job import JobContext, StepFailure
from sm_pipelines.local.state import LocalState, write_json_atomic

POLL_SECONDS = 0.2


def queue_file(state: LocalState, queue_url: str) -> Path:
    name = queue_url.rstrip("/").rsplit("/", 1)[-1] or "default"
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return state.root / "queues" / f"{safe}.jsonl"


def answer_file(state: LocalState, token: str) -> Path:
    return state.root / "callbacks" / f"{token}.json"


def prepare(raw: dict[str, Any], scope: Any) -> dict[str, Any]:
    return {
        "SqsQueueUrl": raw.get("SqsQueueUrl", ""),
        "OutputParameters": raw.get("OutputParameters", []),
        "Arguments": scope.evaluate(raw.get("Arguments", {})),
    }


def run(ctx: JobContext, request: dict[str, Any]) -> dict[str, Any]:
    token = f"{ctx.execution_id}-{secrets.token_hex(6)}"
    message = {
        "token": token,
        "pipelineExecutionArn": ctx.arn("pipeline", ctx.pipeline)
        + f"/execution/{ctx.execution_id}",
        "stepName": ctx.step,
        "arguments": request.get("Arguments", {}),
        "status": "Executing",
        "time": datetime.now(UTC).isoformat(),
    }
    queue = queue_file(ctx.state, request.get("SqsQueueUrl", ""))
    queue.parent.mkdir(parents=True, exist_ok=True)
    with queue.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(message, sort_keys=True) + "\n")
    hint = f"sm-pipelines callback success {token} [--output NAME=VALUE]"
    ctx.log_file.parent.mkdir(parents=True, exist_ok=True)
    with ctx.log_file.open("a", encoding="utf-8") as log:
        log.write(f"waiting on {queue.name}: answer with `{hint}` (or `callback failure`)\n")
    print(f"Callback step {ctx.step} waits: {hint}", file=sys.stderr, flush=True)
    answer = answer_file(ctx.state, token)
    while not answer.is_file():
        time.sleep(POLL_SECONDS)
    reply = read_json(answer)
    if reply.get("status") != "Success":
        raise StepFailure(f"Callback failure: {reply.get('reason') or 'no reason given'}")
    given = reply.get("outputs") or {}
    outputs = []
    for output in request.get("OutputParameters", []):
        name = output.get("OutputName")
        if name not in given:
            raise StepFailure(f"Callback success for {ctx.step} gave no output {name!r}")
        outputs.append({"Name": name, "Value": given[name]})
    return {**request, "OutputParameters": outputs, "CallbackToken": token}


def waiting_tokens(state: LocalState) -> set[str]:
    """Tokens posted to any queue and not answered yet."""
    tokens: set[str] = set()
    for queue in (state.root / "queues").glob("*.jsonl"):
        for line in queue.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                tokens.add(json.loads(line)["token"])
            except (ValueError, KeyError, TypeError):
                continue
    return {t for t in tokens if not answer_file(state, t).exists()}


def send(state: LocalState, token: str, status: str, outputs: dict[str, str], reason: str) -> Path:
    """What SendPipelineExecutionStepSuccess/Failure does: answer a waiting step once."""
    if token not in waiting_tokens(state):
        raise UserError(f"no callback step waits for token {token!r} in {state.root}")
    path = answer_file(state, token)
    write_json_atomic(path, {"status": status, "outputs": outputs, "reason": reason})
    return path
