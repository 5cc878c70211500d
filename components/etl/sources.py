"""The DataSources parameter: a comma-separated list, each item one of

  http://... or https://...   a web page
  git:<path> or git:<url>     a git repository (one `repositories` document)
  <path>                      a folder of exports (Markdown, HTML, JSON)

Relative paths resolve against the job's working directory (the project root when the local
executor runs it). Every item is checked before anything is written, so a typo fails the run
instead of ingesting half the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from components.common.job import JobError
from components.etl.repository import is_url

FOLDER, GIT, WEB = "folder", "git", "web"


@dataclass(frozen=True)
class Source:
    kind: str
    location: str


def parse_sources(spec: str, cwd: Path) -> list[Source]:
    items = list(dict.fromkeys(part.strip() for part in spec.split(",") if part.strip()))
    if not items:
        raise JobError("--sources names no source")
    return [_parse(item, cwd) for item in items]


def _parse(item: str, cwd: Path) -> Source:
    lowered = item.lower()
    if lowered.startswith(("http://", "https://")):
        parsed = urlparse(item)
        if not parsed.netloc:
            raise JobError(f"source {item!r}: a URL without a host")
        return Source(WEB, item)
    if lowered.startswith("git:"):
        location = item[4:].strip()
        if not location:
            raise JobError(f"source {item!r}: git: names no repository")
        if not is_url(location):
            _require_folder(item, cwd / location, cwd)
        return Source(GIT, location)
    if "://" in item:
        raise JobError(
            f"source {item!r}: unsupported scheme (expected a folder, git:<repo> or http(s)://)"
        )
    _require_folder(item, cwd / item, cwd)
    return Source(FOLDER, item)


def _require_folder(item: str, path: Path, cwd: Path) -> None:
    if not path.is_dir():
        raise JobError(
            f"source {item!r}: no such folder {path.resolve()} "
            f"(relative paths resolve against {cwd})"
        )
