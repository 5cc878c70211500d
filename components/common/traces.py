"""Where request traces go, shared by the RAG service (writer) and the monitoring job (reader).

Opik's configuration is read as the Opik SDK reads it (opik_config.py: variables, then
`~/.opik.config`). With Opik configured (a URL, or an API key for Comet's), traces go to Opik.
Otherwise they go to a local JSONL log: $LLM_TWIN_TRACES_FILE, else
<$SM_PIPELINES_LOCAL_STATE>/traces.jsonl. Never to the SDK's default server: an unreachable one
blocks every flush for ~11 s on retries. `destination` is the one line a service or job prints at
start to say which, and why.

The local log is append-only, one JSON record a line, shaped like Opik's own objects:
  {"kind": "trace", "id", "name", "project_name", "start_time", "end_time", "input", "output",
   "metadata", "tags", "error_info", "thread_id", "spans": [{"id", "parent_span_id", "name",
   "type", "start_time", "end_time", "input", "output", "metadata", "model", "provider", "usage",
   "error_info"}, ...]}
  {"kind": "feedback", "trace_id", "name", "value", "reason", "source", "time"}
Appending (one write per batch) lets the service and the monitoring job share the file without
locks; a reader skips a line it cannot parse rather than failing on one torn record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.common import opik_config
from components.common.contract import STATE_VARIABLE
from components.common.job import JobError
from components.common.opik_config import OpikSettings

TRACES_FILE_VARIABLE = "LLM_TWIN_TRACES_FILE"
TRACES_FILE = "traces.jsonl"
# The RAG service's request traces, and how many one read fetches at the most.
TRACE_NAME = "rag"
MAX_TRACES = 20000


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def opik_settings(env: Mapping[str, str] | None = None) -> OpikSettings:
    """Opik's configuration as the SDK resolves it; a JobError line when it is wrong."""
    try:
        return opik_config.opik_settings(env)
    except opik_config.OpikConfigError as exc:
        raise JobError(str(exc)) from None


def opik_configured(env: Mapping[str, str] | None = None) -> bool:
    return opik_settings(env).configured


def tracking_disabled(env: Mapping[str, str] | None = None) -> bool:
    """Opik's `track_disable` (OPIK_TRACK_DISABLE, or `track_disable` in ~/.opik.config): the
    RAG service records no request traces. As in the SDK, nothing else is turned off."""
    return opik_settings(env).track_disable


def project_name(env: Mapping[str, str] | None = None) -> str:
    return opik_settings(env).project


def local_traces_path(env: Mapping[str, str] | None = None) -> Path | None:
    env = _env(env)
    explicit = env.get(TRACES_FILE_VARIABLE, "").strip()
    if explicit:
        return Path(explicit)
    state = env.get(STATE_VARIABLE, "").strip()
    return Path(state) / TRACES_FILE if state else None


def destination(env: Mapping[str, str] | None = None) -> str:
    """One line: where traces go (Opik's URL, workspace and project, or the local log and why
    not Opik). Never the API key."""
    settings = opik_settings(env)
    if settings.track_disable:
        return "nowhere: tracking is off (Opik's track_disable / OPIK_TRACK_DISABLE)"
    if settings.configured:
        return settings.describe()
    path = local_traces_path(env)
    where = f"the local trace log {path.resolve()}" if path else "no local trace log either"
    return f"{where} ({settings.url_source})"


prepare_opik = opik_config.prepare_opik


def opik_client(env: Mapping[str, str] | None = None) -> Any:
    """An Opik client for the configured server, with the settings the SDK resolved (the API
    key may come from OPIK_API_KEY_SECRET)."""
    return opik_config.opik_client(opik_settings(env))


def append_records(path: Path, records: Iterable[dict[str, Any]]) -> int:
    lines = [json.dumps(record, default=str, ensure_ascii=False) + "\n" for record in records]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines))
    return len(lines)


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every record in the log and the number of lines that were not a JSON object."""
    if not path.is_file():
        return [], 0
    records, bad = [], 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                bad += 1
    return records, bad


def _opik_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def search_opik(
    client: Any,
    project: str,
    start: datetime,
    end: datetime | None = None,
    *,
    truncate: bool,
    source: str,
) -> list[dict[str, Any]]:
    """The RAG service's traces in Opik `project` that started in [start, end), as plain dicts
    (Opik's trace objects dumped); an Opik error is one JobError line naming `source`."""
    where = f'name = "{TRACE_NAME}" AND start_time >= "{_opik_time(start)}"'
    if end is not None:
        where += f' AND start_time < "{_opik_time(end)}"'
    try:
        found = client.search_traces(
            project_name=project, filter_string=where, max_results=MAX_TRACES, truncate=truncate
        )
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise JobError(f"cannot read traces from {source}: {type(exc).__name__}: {first}") from None
    return [t.model_dump() if hasattr(t, "model_dump") else dict(vars(t)) for t in found]
