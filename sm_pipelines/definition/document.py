"""The one reader of compiled pipeline definitions (what `build` writes and SageMaker runs).

Everything that looks inside a definition (validate, the graph, the IAM policies, the local
executor) reads it through `read`/`load` and walks it with the helpers here, so where compiled
files live (`compiled_path`), what counts as a step (branches included) and which expressions
name another step are decided once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_pipelines.errors import DefinitionError
from sm_pipelines.files import parse_json

COMPILED_DIR = "compiled"
# Get targets that read another step: `Steps.<name>.<property>`.
_STEP_GET = re.compile(r"^Steps\.([^.\[]+)")

# A step inside a condition's branch runs only when that condition took that branch.
Gate = tuple[str, bool]


def compiled_path(definitions_root: Path, env: str, pipeline: str) -> Path:
    """Where `build` writes the compiled definition of `pipeline` for environment `env`."""
    return definitions_root / COMPILED_DIR / env / f"{pipeline}.json"


def compiled_files(definitions_root: Path) -> list[Path]:
    """Every compiled definition, of every environment."""
    return sorted((definitions_root / COMPILED_DIR).glob("*/*.json"))


@dataclass(frozen=True)
class Document:
    """A parsed definition: its text (kept verbatim for records and caching) and its data."""

    source: str
    text: str
    data: dict[str, Any]

    def gated_steps(self) -> list[tuple[dict[str, Any], Gate | None]]:
        """Every step, condition branches included, in document order, with its gate."""
        return gated_steps(self.data)

    def steps(self) -> list[dict[str, Any]]:
        return [step for step, _ in self.gated_steps()]

    def parameters(self) -> dict[str, dict[str, Any]]:
        """Parameter declarations by name."""
        declared = self.data.get("Parameters")
        return {
            p["Name"]: p
            for p in (declared if isinstance(declared, list) else [])
            if isinstance(p, dict) and isinstance(p.get("Name"), str)
        }

    def function_arns(self) -> set[str]:
        """The `FunctionArn` of every Lambda step."""
        return {
            step["FunctionArn"]
            for step in self.steps()
            if step.get("Type") == "Lambda" and isinstance(step.get("FunctionArn"), str)
        }


def load(text: str, source: str) -> Document:
    """Parse a definition's text, or raise a DefinitionError naming `source`."""
    data = parse_json(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("Steps"), list):
        raise DefinitionError(source, "not a pipeline definition (no Steps list)")
    return Document(source=source, text=text, data=data)


def read(path: Path, missing_hint: str = "run `sm-pipelines build` first") -> Document:
    """Read and parse a definition file; every failure is one line naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(path, f"no compiled definition; {missing_hint}") from None
    except UnicodeDecodeError:
        raise DefinitionError(path, "not a pipeline definition (not UTF-8 text)") from None
    except OSError as exc:
        raise DefinitionError(path, f"cannot read: {exc.strerror or exc}") from None
    return load(text, str(path))


def gated_steps(data: dict[str, Any]) -> list[tuple[dict[str, Any], Gate | None]]:
    found: list[tuple[dict[str, Any], Gate | None]] = []

    def visit(steps: Any, gate: Gate | None) -> None:
        for step in steps if isinstance(steps, list) else []:
            if not isinstance(step, dict):
                continue
            found.append((step, gate))
            arguments = step.get("Arguments")
            if step.get("Type") == "Condition" and isinstance(arguments, dict):
                name = step.get("Name")
                visit(arguments.get("IfSteps", []), (name, True))
                visit(arguments.get("ElseSteps", []), (name, False))

    visit(data.get("Steps"), None)
    return found


def all_steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step, condition branches included, in document order."""
    return [step for step, _ in gated_steps(data)]


def iter_gets(node: Any) -> Iterator[str]:
    """Every `Get` target string inside `node`."""
    if isinstance(node, dict):
        if isinstance(node.get("Get"), str):
            yield node["Get"]
        for value in node.values():
            yield from iter_gets(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_gets(item)


def step_references(node: Any) -> set[str]:
    """Steps whose properties or property files `node` reads."""
    found: set[str] = set()
    if isinstance(node, dict):
        get = node.get("Get")
        if isinstance(get, str) and (match := _STEP_GET.match(get)):
            found.add(match.group(1))
        json_get = node.get("Std:JsonGet")
        if isinstance(json_get, dict) and isinstance(json_get.get("StepName"), str):
            found.add(json_get["StepName"])
        for value in node.values():
            found |= step_references(value)
    elif isinstance(node, list):
        for item in node:
            found |= step_references(item)
    return found
