"""YAML loading that remembers the line of every mapping key and sequence item."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sm_pipelines.errors import DefinitionError

FieldPath = tuple[str | int, ...]


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


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


def _index_lines(node: yaml.Node, prefix: FieldPath, lines: dict[FieldPath, int]) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*prefix, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*prefix, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*prefix, index), lines)


def load_yaml(path: Path) -> YamlDocument:
    """Parse `path`, turning every read or syntax problem into a one-line DefinitionError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(path, "file not found") from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DefinitionError(path, f"cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
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
        raise DefinitionError(path, f"invalid YAML: {exc}") from None
    if data is None:
        raise DefinitionError(path, "file is empty; expected a mapping")
    if not isinstance(data, dict):
        raise DefinitionError(
            path, f"expected a mapping at the top, found {type(data).__name__}", line=1
        )
    lines: dict[FieldPath, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDocument(path=path, data=data, lines=lines)
