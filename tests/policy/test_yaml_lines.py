"""The one YAML loader of the policy files: lines of values by path, duplicate keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from mas.errors import ConfigError
from mas_gateway.policy.errors import PolicyError
from mas_gateway.policy.yaml_lines import LineDict, line_at, load_yaml, load_yaml_source

_DOC = """\
version: 1
engine:
  language: en
  limits:
    max_depth: 4
routes:
  - from: [a]
    to: [b]
  -
    from: [c]
"""


def test_line_of_each_value_by_path() -> None:
    data = load_yaml(_DOC, "dlp.yaml")
    assert isinstance(data, LineDict)
    assert line_at(data, ("version",)) == 1
    assert line_at(data, ("engine", "language")) == 3
    assert line_at(data, ("engine", "limits", "max_depth")) == 5
    assert line_at(data, ("routes", 1, "from")) == 10
    assert line_at(data, ("routes", 5)) is None
    assert line_at(data, ("engine", ["unhashable"])) is None


def test_source_keeps_plain_data_and_names_the_nearest_line(tmp_path: Path) -> None:
    file = tmp_path / "dlp.yaml"
    file.write_text(_DOC, encoding="utf-8")
    source = load_yaml_source(file)
    assert type(source.data) is dict
    assert type(source.data["routes"]) is list
    assert source.data["engine"]["limits"] == {"max_depth": 4}
    assert source.line(("engine", "limits", "no_such_key")) == 5  # where the mapping starts
    assert str(source.error(("routes", 0, "to"), "bad")) == f"{file}:8: bad"


def test_duplicate_keys_and_syntax_errors_name_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "dlp.yaml"
    with pytest.raises(PolicyError, match=r"dlp.yaml:3: invalid YAML: key 'a' repeats line 2"):
        load_yaml_source(file, "x: 1\na: 1\na: 2\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml_source(file)
