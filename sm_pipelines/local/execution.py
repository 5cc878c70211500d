"""Execution and step records, persisted under <state>/executions/<id>/execution.json."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sm_pipelines.config.naming import sagemaker_arn
from sm_pipelines.errors import DefinitionError, UserError
from sm_pipelines.files import read_json
from sm_pipelines.local.state import LocalState, quarantine, read_record, write_json_atomic

# Ids this executor makes (12 of a-z0-9); anything else never names a folder under executions/.
_EXECUTION_ID = re.compile(r"^[a-z0-9]{1,64}$")

PENDING, EXECUTING, SUCCEEDED, FAILED, NOT_EXECUTED = (
    "Pending",
    "Executing",
    "Succeeded",
    "Failed",
    "NotExecuted",
)
TERMINAL = (SUCCEEDED, FAILED, NOT_EXECUTED)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_execution_id() -> str:
    # SageMaker execution ids are 12 lowercase letters and digits.
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


@dataclass
class StepRecord:
    name: str
    type: str
    display_name: str = ""
    status: str = PENDING
    start: str | None = None
    end: str | None = None
    attempts: int = 0
    properties: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    cache_source: str | None = None  # execution whose result a cache hit reused

    def seconds(self) -> float | None:
        if not self.start:
            return None
        end = datetime.fromisoformat(self.end) if self.end else datetime.now(UTC)
        return (end - datetime.fromisoformat(self.start)).total_seconds()

    def metadata(self) -> dict[str, Any]:
        """The step's job reference, as EventBridge step events carry it."""
        props = self.properties
        for key, kind in (
            ("ProcessingJobArn", "ProcessingJob"),
            ("TrainingJobArn", "TrainingJob"),
            ("ModelPackageArn", "RegisterModel"),
        ):
            if key in props:
                return {kind: {"Arn": props[key]}}
        if "Outcome" in props:
            return {"Condition": {"Outcome": props["Outcome"]}}
        if self.type == "Fail" and self.failure_reason:
            return {"Fail": {"ErrorMessage": self.failure_reason}}
        return {}


@dataclass
class Execution:
    id: str
    pipeline: str
    region: str
    account: str
    definition: str
    parameters: dict[str, Any]
    steps: dict[str, StepRecord]
    status: str = EXECUTING
    start: str = field(default_factory=now)
    end: str | None = None
    failure_reason: str | None = None
    source: str = ""
    # StartPipelineExecution's PipelineExecutionDescription (`run --description`).
    description: str = ""
    # The local stores the run had (`local.services`); a retry starts the same ones.
    services: list[str] = field(default_factory=list)

    @property
    def pipeline_arn(self) -> str:
        return sagemaker_arn(self.region, self.account, "pipeline", self.pipeline)

    @property
    def arn(self) -> str:
        return f"{self.pipeline_arn}/execution/{self.id}"

    def seconds(self) -> float:
        end = datetime.fromisoformat(self.end) if self.end else datetime.now(UTC)
        return (end - datetime.fromisoformat(self.start)).total_seconds()

    def save(self, state: LocalState) -> None:
        # Unsorted: step order is the definition's order, which describe shows.
        write_json_atomic(
            state.execution_dir(self.id) / "execution.json", asdict(self), sort_keys=False
        )


def _parse(path: Path, raw: Any) -> Execution:
    """An execution from its record; ValueError/TypeError/KeyError when it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), dict):
        raise ValueError("not an object with a steps object")
    raw = {**raw, "steps": {name: StepRecord(**step) for name, step in raw["steps"].items()}}
    execution = Execution(**raw)
    datetime.fromisoformat(execution.start)
    if execution.end:
        datetime.fromisoformat(execution.end)
    return execution


def load_execution(state: LocalState, execution_id: str) -> Execution:
    path = state.execution_dir(execution_id) / "execution.json"
    if not _EXECUTION_ID.match(execution_id) or not path.is_file():
        raise UserError(f"no execution {execution_id!r} in {state.executions_dir}")
    try:
        return _parse(path, read_json(path))
    except DefinitionError as exc:
        raise UserError(f"{path}: not a readable execution record ({exc.message})") from None
    except (TypeError, KeyError, ValueError) as exc:
        raise UserError(f"{path}: not a readable execution record ({exc})") from None


def list_executions(state: LocalState) -> list[Execution]:
    """Every readable execution, newest first. A damaged record (a run killed mid-write by an
    older version, a hand edit) is moved aside with a warning rather than blocking every run."""
    if not state.executions_dir.is_dir():
        return []
    found = []
    for path in state.executions_dir.glob("*/execution.json"):
        raw = read_record(path)
        if raw is None:
            continue
        try:
            found.append(_parse(path, raw))
        except (TypeError, KeyError, ValueError) as exc:
            quarantine(path, f"not an execution record ({type(exc).__name__}: {exc})")
    return sorted(found, key=lambda e: e.start, reverse=True)
