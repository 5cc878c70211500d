"""`sm-pipelines build`: write compiled definitions, or check that the committed ones are fresh."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sm_pipelines.code_bundle import collect_bundle
from sm_pipelines.compile import COMPILED_DIR, compile_environment
from sm_pipelines.config.loader import Definitions


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
    compiled_root = definitions.root / COMPILED_DIR
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
    for env_name in env_names:
        for path in sorted((compiled_root / env_name).glob("*.json")):
            if path not in expected:
                if check:
                    changes.append(BuildChange(path, "orphaned"))
                else:
                    path.unlink()
                    changes.append(BuildChange(path, "removed"))
    if environments is None and compiled_root.is_dir():
        for env_dir in sorted(p for p in compiled_root.iterdir() if p.is_dir()):
            if env_dir.name not in definitions.environments:
                for path in sorted(env_dir.glob("*.json")):
                    if check:
                        changes.append(BuildChange(path, "orphaned"))
                    else:
                        path.unlink()
                        changes.append(BuildChange(path, "removed"))
    return changes
