"""The RAG prompt templates (prompt.py) as versioned prompts, registered on first use.

With Opik configured, in Opik's prompt library through the SDK's `client.create_prompt`: the SDK
reads the prompt's latest version and creates a new one only when the template (or its metadata
or type) differs, so the same text is the same version; the server numbers versions (`v1`,
`v2`, ...) and gives each a commit (8 characters).

Without Opik, in a local library beside the trace log, `prompts.jsonl`: one record per version,
`{"kind": "prompt_version", "name", "version", "commit", "template", "created"}`. A version is
known by its commit, the first 8 hex digits of the template's SHA-256 (the same text is the same
commit, as in Opik the same text is the same version); versions are numbered in the order their
commits first appear. Append-only like the trace log, so the service and `ask` may both register
without locks: a commit written twice by a race is still one version.

Every trace then records `prompt_name`, `prompt_version`, `prompt_commit` and `prompt_library` in
its metadata, plus the prompt under `opik_prompts` (the metadata key through which Opik links a
trace or span to a prompt version). When the library cannot be reached the trace still records
the name and the content commit, `prompt_version` is null and `prompt_library` says
`unregistered`; the service warns once and tries again a minute later.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from components.common import traces
from components.serving.rag.prompt import PromptTemplate

PROMPTS_FILE = "prompts.jsonl"
RECORD_KIND = "prompt_version"
RETRY_SECONDS = 60.0


def content_commit(template: str) -> str:
    """The local commit of a template: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class PromptVersion:
    name: str
    template: str
    commit: str
    version: str | None  # "v3"; None when it could not be registered
    library: str  # "opik", "local" or "unregistered"
    version_id: str | None = None

    def trace_metadata(self) -> dict[str, Any]:
        return {
            "prompt_name": self.name,
            "prompt_version": self.version,
            "prompt_commit": self.commit,
            "prompt_library": self.library,
        }

    def opik_prompt(self) -> dict[str, Any]:
        """The prompt as Opik's `opik_prompts` metadata entry holds it."""
        version: dict[str, Any] = {"template": self.template, "commit": self.commit}
        if self.version is not None:
            version["version_number"] = self.version
        if self.version_id is not None:
            version["id"] = self.version_id
        return {"name": self.name, "template_structure": "text", "version": version}

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "commit": self.commit}


def unregistered(template: PromptTemplate) -> PromptVersion:
    return PromptVersion(
        template.name, template.template, content_commit(template.template), None, "unregistered"
    )


class PromptLibrary(Protocol):
    description: str

    def register(self, template: PromptTemplate) -> PromptVersion: ...


class LocalPromptLibrary:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"local prompt library {path}"

    def versions(self, name: str) -> list[dict[str, Any]]:
        """The versions of `name`, oldest first, each the first record of its commit."""
        records, _ = traces.read_records(self.path)
        seen: dict[str, dict[str, Any]] = {}
        for record in records:
            if record.get("kind") != RECORD_KIND or record.get("name") != name:
                continue
            commit = record.get("commit")
            if isinstance(commit, str) and commit not in seen:
                seen[commit] = record
        return list(seen.values())

    def register(self, template: PromptTemplate) -> PromptVersion:
        commit = content_commit(template.template)
        versions = self.versions(template.name)
        commits = [record["commit"] for record in versions]
        if commit not in commits:
            traces.append_records(
                self.path,
                [
                    {
                        "kind": RECORD_KIND,
                        "name": template.name,
                        "version": f"v{len(commits) + 1}",
                        "commit": commit,
                        "template": template.template,
                        "created": datetime.now(UTC).isoformat(),
                    }
                ],
            )
            # Read back: a concurrent writer may have put another version first.
            commits = [record["commit"] for record in self.versions(template.name)]
        number = commits.index(commit) + 1
        return PromptVersion(template.name, template.template, commit, f"v{number}", "local")


class OpikPromptLibrary:
    def __init__(self, client: Any, project: str) -> None:
        self.client = client
        self.project = project
        self.description = f"Opik's prompt library at {client.config.url_override}"

    def register(self, template: PromptTemplate) -> PromptVersion:
        prompt = self.client.create_prompt(
            name=template.name,
            prompt=template.template,
            metadata={"source": "components/serving/rag/prompt.py"},
            project_name=self.project,
        )
        return PromptVersion(
            template.name,
            template.template,
            str(prompt.commit),
            prompt.version,
            "opik",
            prompt.version_id,
        )


def library_for(sink: Any) -> PromptLibrary | None:
    """The library beside where traces go: Opik's for the Opik sink, the local one beside the
    local trace log; None when tracking is off (no trace would record the version)."""
    from components.serving.rag.tracing import JsonlSink, OpikSink

    if isinstance(sink, OpikSink):
        return OpikPromptLibrary(sink.client, sink.project)
    if isinstance(sink, JsonlSink):
        return LocalPromptLibrary(sink.path.parent / PROMPTS_FILE)
    return None


class PromptVersions:
    """Each template's version, registered on first use and remembered; thread-safe."""

    def __init__(self, library: PromptLibrary | None) -> None:
        self.library = library
        self._known: dict[str, PromptVersion] = {}
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, template: PromptTemplate) -> PromptVersion:
        with self._lock:
            known = self._known.get(template.name)
            if known is not None and known.template == template.template:
                return known
            failed = self._failed_at.get(template.name)
            if self.library is None or (
                failed is not None and time.monotonic() - failed < RETRY_SECONDS
            ):
                return unregistered(template)
            try:
                version = self.library.register(template)
            except Exception as exc:
                self._failed_at[template.name] = time.monotonic()
                first = (str(exc).strip().splitlines() or [""])[0]
                print(
                    f"rag: warning: cannot register prompt {template.name} in "
                    f"{self.library.description} ({type(exc).__name__}: {first}); traces carry "
                    "its content commit only, retrying in a minute",
                    file=sys.stderr,
                    flush=True,
                )
                return unregistered(template)
            self._failed_at.pop(template.name, None)
            self._known[template.name] = version
            return version
