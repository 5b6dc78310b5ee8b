"""Safe YAML loading that remembers the line of every mapping, key and list."""

from __future__ import annotations

from typing import Any

import yaml

from .errors import Issue, PolicyError

__all__ = ["LineDict", "LineList", "load_yaml", "plain"]


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """Line of `key`, else of the mapping itself."""
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _DuplicateKey(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in result:
            first = result.key_lines[key]
            raise _DuplicateKey(
                None, None, f"key {key!r} repeats line {first}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _sequence)


def load_yaml(text: str, file: str) -> Any:
    """Parse `text`; `PolicyError` naming `file` and the line of the syntax problem."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = exc.problem or exc.context or "invalid YAML"
        raise PolicyError([Issue(file, line, f"invalid YAML: {reason}")]) from exc
    except yaml.YAMLError as exc:
        raise PolicyError([Issue(file, 0, f"invalid YAML: {exc}")]) from exc


def plain(value: Any) -> Any:
    """The same data as ordinary dicts and lists (e.g. a test payload)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
