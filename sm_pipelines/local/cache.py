"""Step caching as SageMaker does it, plus input content: a hit needs the same evaluated arguments,
the same bytes behind every input, and an entry younger than the step's ExpireAfter."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sm_pipelines.local.state import LocalState, quarantine, read_record, write_json_atomic

CACHEABLE_TYPES = ("Processing", "Training")
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """ISO 8601 duration (P30D, PT12H, P1Y2M); months count 30 days and years 365."""
    match = _DURATION.match(text or "")
    if not match or text in ("P", "PT"):
        raise ValueError(f"ExpireAfter {text!r} is not an ISO 8601 duration")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(
        days=years * 365 + months * 30 + weeks * 7 + days,
        hours=hours,
        minutes=minutes,
        seconds=seconds,
    )


def content_digest(path: Path) -> str:
    """Digest of every file's relative path and bytes under `path` (or of the one file)."""
    sha = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        sha.update(
            file.name.encode() if file == path else file.relative_to(path).as_posix().encode()
        )
        sha.update(hashlib.sha256(file.read_bytes()).digest())
    return sha.hexdigest()


def input_uris(step_type: str, arguments: dict[str, Any]) -> list[str]:
    if step_type == "Processing":
        return [
            item["S3Input"]["S3Uri"]
            for item in arguments.get("ProcessingInputs", [])
            if "S3Input" in item
        ]
    uris = [
        channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
        for channel in arguments.get("InputDataConfig", [])
    ]
    submit = (arguments.get("HyperParameters") or {}).get("sagemaker_submit_directory", "")
    return [uri for uri in [*uris, submit.strip('"')] if uri.startswith("s3://")]


def cache_key(state: LocalState, step: dict[str, Any], arguments: dict[str, Any]) -> str:
    inputs = {}
    for uri in input_uris(step["Type"], arguments):
        local = state.s3_path(uri)
        inputs[uri] = content_digest(local) if local.exists() else "missing"
    material = {
        "Type": step["Type"],
        "Arguments": arguments,
        "PropertyFiles": step.get("PropertyFiles", []),
        "Inputs": inputs,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _outputs_exist(state: LocalState, properties: dict[str, Any]) -> bool:
    uris = [
        item["S3Output"]["S3Uri"]
        for item in properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
    ]
    model = properties.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    return all(state.s3_path(uri).exists() for uri in [*uris, *([model] if model else [])])


def lookup(
    state: LocalState, pipeline: str, step: str, key: str, expire_after: str
) -> dict[str, Any] | None:
    path = state.cache_dir / pipeline / step / f"{key}.json"
    if not path.is_file():
        return None
    entry = read_record(path)
    if entry is None:
        return None
    try:
        created = datetime.fromisoformat(entry["created"])
        properties, _ = entry["properties"], entry["execution_id"]
        if not isinstance(properties, dict) or created.tzinfo is None:
            raise ValueError("properties is not an object or created has no time zone")
    except (KeyError, TypeError, ValueError) as exc:
        # A damaged entry is a miss (the step runs again), never a failure of every later run.
        quarantine(path, f"not a cache entry ({type(exc).__name__}: {exc})")
        return None
    if datetime.now(UTC) - created > parse_duration(expire_after):
        return None
    return entry if _outputs_exist(state, properties) else None


def store(
    state: LocalState, pipeline: str, step: str, key: str, execution_id: str, properties: dict
) -> None:
    write_json_atomic(
        state.cache_dir / pipeline / step / f"{key}.json",
        {
            "created": datetime.now(UTC).isoformat(),
            "execution_id": execution_id,
            "properties": properties,
        },
    )
