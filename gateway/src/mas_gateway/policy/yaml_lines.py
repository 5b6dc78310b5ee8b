"""Safe YAML loading that remembers the line of every mapping, key and list.

The one YAML loader of the policy files: `load_yaml` gives `LineDict`/`LineList`
data that carry their lines (authorization tests, rate limits, circuits);
`load_yaml_source` keeps plain data next to them, with the line of any value by
its path (``dlp.yaml`` and the recognizer files). Duplicate keys are errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mas.errors import ConfigError

from .errors import Issue, PolicyError

__all__ = [
    "LineDict",
    "LineList",
    "YamlPath",
    "YamlSource",
    "line_at",
    "load_yaml",
    "load_yaml_source",
    "plain",
]


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


YamlPath = tuple[Any, ...]
"""Keys and list indexes from the document's root to one of its values."""


def line_at(data: Any, path: YamlPath) -> int | None:
    """The line of the value at `path` in data from `load_yaml`; None when there is none."""
    node = data
    line: int | None = getattr(data, "line", None)
    for step in path:
        if isinstance(node, LineDict) and _is_key(step) and step in node:
            line = node.line_of(step)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            return None
        if isinstance(node, LineDict | LineList):
            line = node.line
    return line


def _is_key(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass(frozen=True)
class YamlSource:
    """A YAML file's data (plain dicts and lists) and the line of each of its values."""

    file: Path
    lined: Any
    data: Any

    def line(self, path: YamlPath) -> int:
        """Line of the value at `path`, or of its nearest ancestor that has one (else 1)."""
        for cut in range(len(path), -1, -1):
            found = line_at(self.lined, path[:cut])
            if found:
                return found
        return 1

    def error(self, path: YamlPath, message: str) -> ConfigError:
        """A ConfigError naming this file and the line of `path`."""
        return ConfigError(f"{self.file}:{self.line(path)}: {message}")


def load_yaml_source(file: Path, text: str | None = None) -> YamlSource:
    """`load_yaml` of `text` (else of the file's contents), kept with the lines of its values.

    Raises:
        ConfigError: the file cannot be read; `PolicyError` (a ConfigError): invalid YAML.
    """
    if text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from exc
    lined = load_yaml(text, str(file))
    return YamlSource(file, lined, plain(lined))
