"""`sm-pipelines build`: write compiled definitions, or check that the committed ones are fresh."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sm_pipelines.compile.bundle import collect_bundle
from sm_pipelines.compile.compiler import compile_environment
from sm_pipelines.config.loader import Definitions
from sm_pipelines.definition.document import compiled_files


@dataclass(frozen=True)
class BuildChange:
    path: Path
    state: str  # "written", "unchanged", "stale", "missing", "orphaned", "removed"


def build(
    definitions: Definitions, environments: list[str] | None = None, check: bool = False
) -> list[BuildChange]:
    """Compile every pipeline for each environment; with `check`, compare instead of writing."""
    env_names = environments or sorted(definitions.environments)
    bundle = collect_bundle(definitions.project_root)
    changes: list[BuildChange] = []
    expected: set[Path] = set()
    for env_name in env_names:
        for compiled in compile_environment(definitions, env_name, bundle=bundle):
            path = compiled.path(definitions.root)
            expected.add(path)
            current = path.read_text(encoding="utf-8") if path.is_file() else None
            if current == compiled.definition:
                changes.append(BuildChange(path, "unchanged"))
            elif check:
                changes.append(BuildChange(path, "missing" if current is None else "stale"))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(compiled.definition, encoding="utf-8")
                changes.append(BuildChange(path, "written"))
    # Definitions of pipelines or environments that no longer exist would be shipped by mistake.
    # With every environment built, a file of an environment that no longer exists is an orphan
    # too; with some, only those environments' files are looked at.
    for path in compiled_files(definitions.root):
        if path in expected or (environments is not None and path.parent.name not in env_names):
            continue
        if check:
            changes.append(BuildChange(path, "orphaned"))
        else:
            path.unlink()
            changes.append(BuildChange(path, "removed"))
    return changes
