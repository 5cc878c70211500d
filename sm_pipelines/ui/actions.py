"""What the view's buttons do: each is the CLI's own command (`run --local`, `retry`,
`models approve|reject`) started as a subprocess of this Python, so a run from the page is the
run a person would start in a terminal, and its state on disk is what the page polls. Each
action's output goes to <state>/ui/actions/<id>.log; the page shows its tail and, once the
run has written its record, the execution it started: a run action passes
`--description "sm-pipelines ui action <id>"` (the execution's PipelineExecutionDescription)
and is matched to the execution whose record carries it, whatever else runs meanwhile."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sm_pipelines.local.execution import list_executions
from sm_pipelines.ui.source import NotFound, ViewSource, tail_text

OUTPUT_LINES = 40


def description_of(action_id: str) -> str:
    """The execution description that ties a run to the view's action that started it."""
    return f"sm-pipelines ui action {action_id}"


@dataclass
class Action:
    id: str
    kind: str
    command: list[str]
    started: datetime
    log: Path
    process: subprocess.Popen[bytes]
    pipeline: str | None = None
    execution: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Actions:
    def __init__(self, source: ViewSource, python: str = sys.executable) -> None:
        self.source = source
        self.python = python
        self._actions: dict[str, Action] = {}
        self._lock = threading.Lock()

    def _cli(self, *args: str) -> list[str]:
        definitions = str(self.source.definitions_dir)
        return [self.python, "-m", "sm_pipelines", "--definitions", definitions, *args]

    def _start(
        self, kind: str, args: list[str], action_id: str | None = None, **known: Any
    ) -> Action:
        folder = self.source.state.root / "ui" / "actions"
        folder.mkdir(parents=True, exist_ok=True)
        action_id = action_id or secrets.token_hex(6)
        log = folder / f"{action_id}.log"
        command = self._cli(*args, "--state", str(self.source.state.root))
        started = datetime.now(UTC)
        with log.open("wb") as output:
            process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.source.definitions_dir.parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        action = Action(action_id, kind, command, started, log, process, **known)
        with self._lock:
            self._actions[action_id] = action
        return action

    def run(self, pipeline: str, parameters: dict[str, str]) -> Action:
        action_id = secrets.token_hex(6)
        args = ["run", pipeline, "--local", "--env", self.source.env, "--quiet"]
        args += ["--description", description_of(action_id)]
        for name, value in parameters.items():
            args += ["--param", f"{name}={value}"]
        return self._start("run", args, action_id, pipeline=pipeline)

    def retry(self, execution: str, pipeline: str) -> Action:
        return self._start(
            "retry", ["retry", execution, "--quiet"], pipeline=pipeline, execution=execution
        )

    def decide(self, group: str, version: int, decision: str, reason: str | None) -> Action:
        args = ["models", decision, group, str(version)]
        if reason:
            args += ["--reason", reason]
        return self._start(decision, args, extra={"group": group, "version": version})

    def _execution_of(self, action: Action) -> str | None:
        """The execution a run action started: the one whose record carries the action's
        description (the CLI prints the id only at the end; the record is on disk from the
        first step)."""
        if action.execution or action.kind != "run":
            return action.execution
        wanted = description_of(action.id)
        found = [e.id for e in list_executions(self.source.state) if e.description == wanted]
        if found:
            action.execution = found[0]
        return action.execution

    def describe(self, action_id: str) -> dict[str, Any]:
        with self._lock:
            action = self._actions.get(action_id)
        if action is None:
            raise NotFound(f"no action {action_id!r} started by this server")
        code = action.process.poll()
        return {
            "id": action.id,
            "kind": action.kind,
            "command": action.command,
            "started": action.started.isoformat(timespec="milliseconds"),
            "running": code is None,
            "exit_code": code,
            "pipeline": action.pipeline,
            "execution": self._execution_of(action),
            "output": tail_text(action.log, OUTPUT_LINES),
            **action.extra,
        }

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every action still running (tests; a server shutting down leaves them)."""
        with self._lock:
            running = list(self._actions.values())
        for action in running:
            action.process.wait(timeout)
