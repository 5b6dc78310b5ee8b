"""``compliance/controls.yaml``: controls mapped to MAS features, evidence commands and rules.

Loading validates the whole file and reports every problem with its line; a control
must name a known framework, at least one evidence command and at least one rule,
and each rule's parameters must be the ones it takes. `command_problems` checks each
evidence command against the real ``mas`` argument parser.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mas.errors import ConfigError

from .rules import RULES

__all__ = [
    "COVERAGE",
    "Control",
    "Controls",
    "ControlsError",
    "EvidenceRule",
    "command_problems",
    "default_controls_file",
    "load_controls",
    "parse_controls",
]

COVERAGE = ("full", "partial")
_TOP_KEYS = {"version", "frameworks", "controls"}
_CONTROL_KEYS = {
    "id",
    "framework",
    "title",
    "requirement",
    "mas",
    "coverage",
    "gaps",
    "features",
    "evidence",
}
_EVIDENCE_KEYS = {"commands", "rules"}


class ControlsError(ConfigError):
    """controls.yaml is invalid; `problems` lists each one with its line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
        super().__init__(self.problems[0] + suffix)


@dataclass(frozen=True)
class EvidenceRule:
    """A rule (see `rules.RULES`) with its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True)
class Control:
    """One control of one framework, what MAS does for it and how that is shown."""

    id: str
    framework: str
    title: str
    requirement: str
    mas: str
    coverage: Literal["full", "partial"]
    gaps: str
    features: tuple[str, ...]
    commands: tuple[str, ...]
    rules: tuple[EvidenceRule, ...]
    line: int = 0


@dataclass(frozen=True)
class Controls:
    """The frameworks (name -> description) and their controls, in file order."""

    frameworks: Mapping[str, str]
    controls: tuple[Control, ...]

    def get(self, control_id: str) -> Control | None:
        """The control with this id, if listed."""
        return next((c for c in self.controls if c.id == control_id), None)


def default_controls_file() -> Path:
    """`compliance/controls.yaml` of the current directory, else of the repository."""
    here = Path.cwd() / "compliance" / "controls.yaml"
    if here.is_file():
        return here
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "compliance" / "controls.yaml"
        if candidate.is_file():
            return candidate
    return here


def _item_lines(text: str) -> list[int]:
    """1-based line of each item of the top-level ``controls`` list."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "controls" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


class _Checker:
    """Collects problems while reading one control."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems

    def problem(self, line: int, label: str, message: str) -> None:
        self.problems.append(f"{self.file}:{line}: {label}: {message}")

    def text(self, node: Mapping[str, Any], key: str, line: int, label: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(line, label, f"'{key}' must be non-empty text")
            return ""
        return " ".join(value.split())

    def strings(self, node: Mapping[str, Any], key: str, line: int, label: str) -> list[str]:
        value = node.get(key)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)  # pyright: ignore[reportUnknownVariableType]
        ):
            self.problem(line, label, f"'{key}' must be a non-empty list of text")
            return []
        return [str(v).strip() for v in value]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]

    def rule(self, item: Any, line: int, label: str) -> EvidenceRule | None:
        if isinstance(item, str):
            item = {"rule": item}
        if not isinstance(item, dict) or not isinstance(item.get("rule"), str):
            self.problem(line, label, "each rule must be a name or a mapping with 'rule'")
            return None
        params: dict[str, Any] = {str(k): v for k, v in item.items() if k != "rule"}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        name = str(item["rule"])  # pyright: ignore[reportUnknownArgumentType]
        spec = RULES.get(name)
        if spec is None:
            self.problem(line, label, f"unknown rule {name!r}; known: {', '.join(sorted(RULES))}")
            return None
        ok = True
        for key, value in params.items():
            kind = spec.params.get(key)
            if kind is None:
                self.problem(line, label, f"rule {name} takes no parameter {key!r}")
                ok = False
            elif kind == "text" and not (isinstance(value, str) and value.strip()):
                self.problem(line, label, f"rule {name}: {key!r} must be non-empty text")
                ok = False
            elif kind == "list" and not (
                isinstance(value, list) and value and all(isinstance(v, str) for v in value)  # pyright: ignore[reportUnknownVariableType]
            ):
                self.problem(line, label, f"rule {name}: {key!r} must be a list of names")
                ok = False
        for key in spec.required:
            if key not in params:
                self.problem(line, label, f"rule {name} needs the parameter {key!r}")
                ok = False
        return EvidenceRule(name, params) if ok else None


def _control(
    node: Any, line: int, frameworks: Mapping[str, str], check: _Checker
) -> Control | None:
    if not isinstance(node, dict):
        check.problem(line, "control", "each control must be a mapping")
        return None
    before = len(check.problems)
    raw_id = node.get("id")
    label = f"control {raw_id!r}" if isinstance(raw_id, str) else "control"
    for key in node:  # pyright: ignore[reportUnknownVariableType]
        if key not in _CONTROL_KEYS:
            check.problem(
                line, label, f"unknown key {key!r}; expected {', '.join(sorted(_CONTROL_KEYS))}"
            )
    control_id = check.text(node, "id", line, label)  # pyright: ignore[reportUnknownArgumentType]
    framework = check.text(node, "framework", line, label)  # pyright: ignore[reportUnknownArgumentType]
    if framework and framework not in frameworks:
        check.problem(line, label, f"framework {framework!r} is not listed under 'frameworks'")
    title = check.text(node, "title", line, label)  # pyright: ignore[reportUnknownArgumentType]
    requirement = check.text(node, "requirement", line, label)  # pyright: ignore[reportUnknownArgumentType]
    mas = check.text(node, "mas", line, label)  # pyright: ignore[reportUnknownArgumentType]
    coverage = node.get("coverage")
    if coverage not in COVERAGE:
        check.problem(line, label, f"'coverage' must be one of {', '.join(COVERAGE)}")
    gaps = ""
    if coverage == "partial":
        gaps = check.text(node, "gaps", line, label)  # pyright: ignore[reportUnknownArgumentType]
    elif node.get("gaps") is not None:
        gaps = " ".join(str(node["gaps"]).split())
    features = check.strings(node, "features", line, label)  # pyright: ignore[reportUnknownArgumentType]
    evidence = node.get("evidence")
    commands: list[str] = []
    rules: list[EvidenceRule] = []
    if not isinstance(evidence, dict):
        check.problem(line, label, "'evidence' must be a mapping with 'commands' and 'rules'")
    else:
        for key in evidence:  # pyright: ignore[reportUnknownVariableType]
            if key not in _EVIDENCE_KEYS:
                check.problem(line, label, f"unknown evidence key {key!r}")
        commands = check.strings(evidence, "commands", line, label)  # pyright: ignore[reportUnknownArgumentType]
        listed = evidence.get("rules")  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType]
        if not isinstance(listed, list) or not listed:
            check.problem(line, label, "'evidence.rules' must be a non-empty list")
        else:
            for item in listed:  # pyright: ignore[reportUnknownVariableType]
                rule = check.rule(item, line, label)
                if rule is not None:
                    rules.append(rule)
    if len(check.problems) > before:
        return None
    return Control(
        id=control_id,
        framework=framework,
        title=title,
        requirement=requirement,
        mas=mas,
        coverage="partial" if coverage == "partial" else "full",
        gaps=gaps,
        features=tuple(features),
        commands=tuple(commands),
        rules=tuple(rules),
        line=line,
    )


def parse_controls(text: str, file: str = "controls.yaml") -> Controls:
    """Parse and validate the file's text; `ControlsError` lists every problem."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        raise ControlsError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(document, dict):
        raise ControlsError([f"{file}:1: expected a mapping with 'frameworks' and 'controls'"])
    problems: list[str] = []
    for key in document:  # pyright: ignore[reportUnknownVariableType]
        if key not in _TOP_KEYS:
            problems.append(f"{file}: unknown key {key!r}; expected {', '.join(sorted(_TOP_KEYS))}")
    if document.get("version", 1) != 1:
        problems.append(f"{file}: only version 1 of the controls format is supported")
    raw_frameworks = document.get("frameworks")
    frameworks: dict[str, str] = {}
    if not isinstance(raw_frameworks, dict) or not raw_frameworks:
        problems.append(f"{file}: 'frameworks' must map each framework name to a description")
    else:
        frameworks = {str(k): " ".join(str(v).split()) for k, v in raw_frameworks.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    listed = document.get("controls")
    if not isinstance(listed, list) or not listed:
        problems.append(f"{file}: 'controls' must be a non-empty list")
        raise ControlsError(problems)
    lines = _item_lines(text)
    check = _Checker(file, problems)
    controls: list[Control] = []
    seen: set[str] = set()
    for position, node in enumerate(listed):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        line = lines[position] if position < len(lines) else 0
        control = _control(node, line, frameworks, check)
        if control is None:
            continue
        if control.id in seen:
            check.problem(line, f"control {control.id!r}", "listed twice")
        seen.add(control.id)
        controls.append(control)
    if problems:
        raise ControlsError(problems)
    return Controls(frameworks, tuple(controls))


def load_controls(path: str | Path) -> Controls:
    """Read and validate a controls file; `ControlsError` (a `ConfigError`) when it is invalid."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ControlsError([f"cannot read controls file {file}: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ControlsError([f"{file}: not valid UTF-8"]) from exc
    return parse_controls(text, file.name)


def command_problems(controls: Controls, parser: argparse.ArgumentParser) -> list[str]:
    """Evidence commands that the ``mas`` parser does not accept, each with argparse's reason."""
    problems: list[str] = []
    for control in controls.controls:
        for command in control.commands:
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                problems.append(f"control {control.id!r}: {command!r}: {exc}")
                continue
            if not argv or argv[0] != "mas":
                problems.append(f"control {control.id!r}: {command!r} is not a mas command")
                continue
            errors = io.StringIO()
            try:
                with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
                    parser.parse_args(argv[1:])
            except SystemExit:
                reason = errors.getvalue().strip().splitlines()
                problems.append(
                    f"control {control.id!r}: {command!r} is not accepted by the mas CLI"
                    + (f" ({reason[-1]})" if reason else "")
                )
    return problems
