"""The instruction dataset as the dataset job writes it: *.jsonl rows of instruction and answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from components.common.job import JobError


@dataclass(frozen=True)
class Example:
    instruction: str
    answer: str


def read_examples(folder: Path, split: str) -> list[Example]:
    """Every row of every *.jsonl file under `folder` (sorted, so the order is reproducible).

    A malformed row stops the job: silently skipping it would train or score on less data than
    the dataset step reported.
    """
    if not folder.is_dir():
        raise JobError(f"{split} split: {folder} does not exist")
    files = sorted(folder.rglob("*.jsonl"))
    if not files:
        raise JobError(f"{split} split: no *.jsonl files in {folder}")
    examples = []
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    examples.append(_parse(line, f"{path.name}:{number}"))
    if not examples:
        raise JobError(f"{split} split is empty: no rows in {', '.join(p.name for p in files)}")
    return examples


def _parse(line: str, where: str) -> Example:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise JobError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise JobError(f"{where}: expected a JSON object, found {type(row).__name__}")
    fields = {}
    for key in ("instruction", "answer"):
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            raise JobError(f"{where}: {key!r} must be a non-empty string")
        fields[key] = value.strip()
    return Example(**fields)
