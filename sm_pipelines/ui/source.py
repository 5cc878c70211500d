"""What the view reads: the definitions folder (compiled JSON of one environment, and the YAML
for descriptions, triggers and alert routes) and one local state folder, plus the small helpers
every reader shares: a 404-shaped error and bounded reads of logs and JSON-lines files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_pipelines.config.loader import Definitions, load_definitions
from sm_pipelines.errors import UserError
from sm_pipelines.local.state import LocalState

# A log or a JSON-lines file can grow without bound; the view reads its end only.
TAIL_BYTES = 8 * 1024 * 1024


class NotFound(UserError):
    """An unknown pipeline, execution, step or model version: the API answers 404."""


@dataclass
class ViewSource:
    definitions_dir: Path
    env: str
    state: LocalState
    definitions: Definitions | None = None
    # Why the YAML could not be read (the compiled JSON still can): shown, never fatal.
    definitions_problem: str | None = None

    @classmethod
    def open(cls, definitions_dir: Path, state: LocalState, env: str = "local") -> ViewSource:
        source = cls(definitions_dir.resolve(), env, state)
        if (definitions_dir / "pipelines").is_dir():
            try:
                source.definitions = load_definitions(definitions_dir)
            except UserError as exc:
                source.definitions_problem = " ".join(str(exc).split())
        return source

    @property
    def compiled_dir(self) -> Path:
        return self.definitions_dir / "compiled" / self.env


def tail_bytes(path: Path, limit: int = TAIL_BYTES) -> bytes:
    """The last `limit` bytes of a file, starting at a line boundary when cut."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= limit:
            return handle.read()
        handle.seek(size - limit)
        data = handle.read()
    return data[data.find(b"\n") + 1 :]


def tail_text(path: Path, lines: int) -> str:
    """The last `lines` lines of a text file ('' when it does not exist)."""
    if not path.is_file():
        return ""
    text = tail_bytes(path, 256 * 1024).decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The object records of a JSON-lines file's end; a line that is not one is skipped (a
    writer may be halfway through its last line)."""
    if not path.is_file():
        return []
    records = []
    for line in tail_bytes(path).decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def traces_file(state: LocalState) -> Path:
    """Where the RAG service writes its traces locally: $LLM_TWIN_TRACES_FILE, else
    <state>/traces.jsonl (the service's own rule)."""
    return Path(os.environ.get("LLM_TWIN_TRACES_FILE") or state.root / "traces.jsonl")
