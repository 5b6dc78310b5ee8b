"""YAML loading that remembers the line of every value, for errors that name file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mas.errors import ConfigError

__all__ = ["YamlSource", "load_yaml"]

YamlPath = tuple[str | int, ...]


@dataclass
class YamlSource:
    """A parsed YAML document with the 1-based line of each node, by path."""

    file: Path
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, path: YamlPath) -> int:
        """Line of the node at `path`, or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            found = self.lines.get(path[:cut])
            if found is not None:
                return found
        return 1

    def error(self, path: YamlPath, message: str) -> ConfigError:
        """A ConfigError naming this file and the line of `path`."""
        return ConfigError(f"{self.file}:{self.line(path)}: {message}")


def _index(node: yaml.Node, path: YamlPath, lines: dict[YamlPath, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            _index(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines)


def load_yaml(file: Path, text: str | None = None) -> YamlSource:
    """Parse `text` (else the file's; safe YAML); ConfigError naming `file` and the line."""
    if text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{file}:{line}: invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    source = YamlSource(file, data)
    if node is not None:
        _index(node, (), source.lines)
    return source
