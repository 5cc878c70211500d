"""Draw a compiled pipeline definition as a Mermaid flowchart: steps, branches, data edges."""

from __future__ import annotations

import re
from typing import Any

from sm_pipelines.config.step_kinds import BY_TYPE
from sm_pipelines.definition.document import all_steps, iter_gets

_STEP_REF = re.compile(r"^Steps\.([A-Za-z0-9\-_]+)\.")
_DEFAULT_SHAPE = ('["', '"]')


def node_id(name: str) -> str:
    """The Mermaid node id of a step: stable, so a page can find every step by its name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _property_file_owners(steps: list[dict[str, Any]]) -> set[str]:
    return {step["Name"] for step in steps if step.get("PropertyFiles")}


def mermaid(definition: dict[str, Any]) -> str:
    """Mermaid text: data edges solid, DependsOn dotted, condition branches labelled."""
    steps = all_steps(definition)
    lines = ["flowchart TD"]
    for step in steps:
        name, kind = step["Name"], step.get("Type", "?")
        label = step.get("DisplayName") or name
        opening, closing = BY_TYPE[kind].shape if kind in BY_TYPE else _DEFAULT_SHAPE
        lines.append(f"    {node_id(name)}{opening}{label}<br/><small>{kind}</small>{closing}")
    edges: list[str] = []
    for step in steps:
        target = node_id(step["Name"])
        sources = set()
        for get in iter_gets(step.get("Arguments", {}) if step.get("Type") != "Condition" else {}):
            match = _STEP_REF.match(get)
            if match and match.group(1) != step["Name"]:
                sources.add(match.group(1))
        if step.get("Type") == "Condition":
            for get in iter_gets(step["Arguments"].get("Conditions", [])):
                match = _STEP_REF.match(get)
                if match:
                    sources.add(match.group(1))
        edges += [f"    {node_id(source)} --> {target}" for source in sorted(sources)]
        edges += [f"    {node_id(dep)} -.-> {target}" for dep in step.get("DependsOn", []) or []]
        if step.get("Type") == "Condition":
            for branch, label in (("IfSteps", "true"), ("ElseSteps", "false")):
                for inner in step["Arguments"].get(branch, []):
                    edges.append(f"    {target} -->|{label}| {node_id(inner['Name'])}")
    lines += list(dict.fromkeys(edges))
    return "\n".join(lines) + "\n"


def readme_block_pattern(pipeline: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- graph:{re.escape(pipeline)}:start -->\n```mermaid\n)(.*?)(```\n<!-- graph:"
        rf"{re.escape(pipeline)}:end -->)",
        re.S,
    )


def replace_readme_block(readme: str, pipeline: str, graph: str) -> str | None:
    """README text with the pipeline's graph block replaced; None when it has no such block."""
    pattern = readme_block_pattern(pipeline)
    if not pattern.search(readme):
        return None
    return pattern.sub(lambda m: m.group(1) + graph + m.group(3), readme)
