"""Bounded, typed readers for every file the tools read: YAML definitions, compiled definition
JSON and the state folder's records.

Every failure becomes one DefinitionError naming the file: missing, unreadable, not UTF-8 (or a
lone surrogate), over the size limit, nested deeper than the depth limit, a YAML alias that
expands past the node limit (a "billion laughs" document is refused before anything walks it),
or a YAML key that is not a scalar. YAML merge keys (`<<: *base`) work as YAML 1.1 defines them,
and a key repeated in one mapping is refused (PyYAML would silently keep the last).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sm_pipelines.errors import DefinitionError

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
# Nodes a YAML document may expand to once its aliases are followed.
MAX_YAML_NODES = 200_000

FieldPath = tuple[str | int, ...]
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A regular file's text, bounded and strictly UTF-8."""
    try:
        if not path.is_file():
            if path.exists():
                raise DefinitionError(path, "not a regular file")
            raise DefinitionError(path, "file not found")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DefinitionError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise DefinitionError(path, f"is over {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in `value` (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(text: str, source: Path | str) -> Any:
    """JSON text as data; NaN/Infinity, excess depth and lone surrogates are refused."""

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            source, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise DefinitionError(source, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise DefinitionError(source, f"not valid JSON: nested deeper than {MAX_DEPTH}") from None
    if _depth(data) > MAX_DEPTH:
        raise DefinitionError(source, f"not valid JSON: nested deeper than {MAX_DEPTH}")
    return data


def read_json(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    return parse_json(read_text(path, max_bytes), path)


def is_finite_number(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


# -- YAML ---------------------------------------------------------------------------------------
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate and non-scalar keys and supports merge keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or mapping",
                key_node.start_mark,
            )
        key = key_node.value
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    # Merged keys come first and explicit ones override them, as YAML 1.1 says.
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_graph(root: yaml.Node, path: Path) -> None:
    """Refuse a node graph that nests too deeply or expands (through aliases) too far."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise DefinitionError(
                path, f"nested deeper than {MAX_DEPTH}", line=node.start_mark.line + 1
            )
        children = _children(node)
        if done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_YAML_NODES:
                raise DefinitionError(
                    path,
                    f"expands to over {MAX_YAML_NODES:,} values through aliases (*name)",
                    line=node.start_mark.line + 1,
                )
            continue
        if id(node) in sizes:
            continue
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


@dataclass
class YamlDocument:
    """A parsed YAML file plus the line where each field path starts."""

    path: Path
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int | None:
        """Line of the deepest known prefix of `path` (a missing key points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def error(self, path: FieldPath, message: str) -> DefinitionError:
        return DefinitionError(self.path, message, field=format_path(path), line=self.line_of(path))


def format_path(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _index_lines(root: yaml.Node, lines: dict[FieldPath, int]) -> None:
    stack: list[tuple[yaml.Node, FieldPath]] = [(root, ())]
    while stack:
        node, prefix = stack.pop()
        if len(prefix) > MAX_DEPTH:
            continue
        lines.setdefault(prefix, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    # Merged keys are located where they are written; explicit ones win.
                    sources = (
                        value_node.value
                        if isinstance(value_node, yaml.SequenceNode)
                        else [value_node]
                    )
                    for source in sources:
                        if isinstance(source, yaml.MappingNode):
                            for merged_key, merged_value in source.value:
                                if (*prefix, merged_key.value) not in lines:
                                    stack.append((merged_value, (*prefix, merged_key.value)))
                    continue
                key = (*prefix, key_node.value)
                lines[key] = key_node.start_mark.line + 1
                stack.append((value_node, key))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*prefix, i)) for i, item in enumerate(node.value))


def load_yaml(path: Path) -> YamlDocument:
    """Parse `path`, turning every read, syntax or shape problem into a one-line error."""
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
        if node is not None:
            _check_graph(node, path)
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        problem_mark, context_mark = exc.problem_mark, exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        # The parser stops where it gave up; the mistake usually starts at its context (an
        # unclosed bracket), so point there and say where the parser stopped.
        if exc.context and context_mark and problem_mark and context_mark.line != problem_mark.line:
            message = f"{exc.context}: {problem} on line {problem_mark.line + 1}"
            raise DefinitionError(
                path, f"invalid YAML: {message}", line=context_mark.line + 1
            ) from None
        mark = problem_mark or context_mark
        line = mark.line + 1 if mark else None
        raise DefinitionError(path, f"invalid YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(path, f"invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise DefinitionError(path, f"nested deeper than {MAX_DEPTH}") from None
    if data is None:
        raise DefinitionError(path, "file is empty; expected a mapping")
    if not isinstance(data, dict):
        raise DefinitionError(
            path, f"expected a mapping at the top, found {type(data).__name__}", line=1
        )
    lines: dict[FieldPath, int] = {}
    if node is not None:
        _index_lines(node, lines)
    return YamlDocument(path=path, data=data, lines=lines)
