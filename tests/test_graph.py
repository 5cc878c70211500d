"""The Mermaid graph: drawn from the compiled JSON, and the README's copy kept in sync."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sm_pipelines.definition.document import all_steps
from sm_pipelines.definition.graph import mermaid, readme_block_pattern, replace_readme_block

ROOT = Path(__file__).resolve().parents[1]


def _definition() -> dict:
    return json.loads((ROOT / "definitions/compiled/local/llm-twin-ct.json").read_text())


def test_readme_graph_matches_the_compiled_pipeline() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme_block_pattern("llm-twin-ct").search(readme)
    assert block, "README.md has no llm-twin-ct graph block"
    assert block.group(2) == mermaid(_definition()), "run `make build` to refresh README.md"


def test_graph_has_data_edges_and_labelled_branches() -> None:
    graph = mermaid(_definition())
    for edge in (
        "etl --> features",
        "features --> dataset",
        "dataset --> train",
        "train --> evaluate",
        "evaluate --> quality_gate",
        "quality_gate -->|true| register_RegisterModel",
        "quality_gate -->|true| deploy",
        "quality_gate -->|false| quality_gate_failed",
        "register_RegisterModel --> deploy",
        "overlap_guard --> no_overlap",
        "no_overlap -->|true| etl",
        "no_overlap -->|false| skipped_overlap",
    ):
        assert f"    {edge}\n" in graph
    assert re.search(r'quality_gate\{"Quality-gate', graph)


def test_depends_on_is_drawn_dotted() -> None:
    definition = _definition()
    features = next(step for step in all_steps(definition) if step["Name"] == "features")
    features["DependsOn"] = ["train"]
    assert "    train -.-> features\n" in mermaid(definition)


def test_replace_block_only_touches_the_named_pipeline() -> None:
    text = "a\n<!-- graph:x:start -->\n```mermaid\nold\n```\n<!-- graph:x:end -->\nb\n"
    assert replace_readme_block(text, "x", "new\n") == text.replace("old", "new")
    assert replace_readme_block(text, "y", "new\n") is None
