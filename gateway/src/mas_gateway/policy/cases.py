"""Parse the policy test cases in `policies/tests/*.yaml`, keeping each case's line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from mas.patterns import AGENT_ID_PATTERN, MESSAGE_TYPE_PATTERN

from .errors import Issue, PolicyError
from .sources import TESTS_DIR, PolicySources
from .yaml_lines import LineDict, LineList, load_yaml, plain

__all__ = ["DLP_ACTIONS", "PolicyTestCase", "parse_cases"]

DLP_ACTIONS = ("block", "redact", "alert", "allow")
_AGENT = re.compile(AGENT_ID_PATTERN)
_TYPE = re.compile(MESSAGE_TYPE_PATTERN)
_CASE_KEYS = ("name", "from", "to", "type", "roles", "payload", "expect", "dlp_action")
_FILE_KEYS = ("description", "cases")


@dataclass(frozen=True)
class PolicyTestCase:
    """One expectation: sending `message_type` from `sender` to `target` is allowed or denied."""

    file: str
    line: int
    name: str
    sender: str
    target: str
    message_type: str
    expect: Literal["allow", "deny"]
    roles: tuple[str, ...] = ()
    """Extra roles, as an operator would set them in the sender's registry record."""
    payload: Mapping[str, Any] | None = field(default=None, compare=False)
    dlp_action: str | None = None

    @property
    def ref(self) -> str:
        """`tests/healthcare.yaml:14`."""
        return f"{self.file}:{self.line}"


def _case(node: Any, name: str, file: str, line: int, issues: list[Issue]) -> PolicyTestCase | None:
    if not isinstance(node, LineDict):
        issues.append(Issue(file, line, "each case must be a mapping (from, to, type, expect)"))
        return None
    before = len(issues)
    for key in node:
        if key not in _CASE_KEYS:
            issues.append(
                Issue(
                    file,
                    node.line_of(key),
                    f"unknown key {key!r}; expected {', '.join(_CASE_KEYS)}",
                )
            )
    values: dict[str, str] = {}
    for key, pattern, what in (
        ("from", _AGENT, "an agent id"),
        ("to", _AGENT, "an agent id"),
        ("type", _TYPE, "a message type"),
    ):
        value = node.get(key)
        if not isinstance(value, str) or not pattern.match(value):
            issues.append(Issue(file, node.line_of(key), f"'{key}' must be {what}, got {value!r}"))
        else:
            values[key] = value
    expect = node.get("expect")
    if expect not in ("allow", "deny"):
        issues.append(
            Issue(file, node.line_of("expect"), f"'expect' must be allow or deny, got {expect!r}")
        )
    roles_node = node.get("roles", [])
    roles: list[str] = []
    if not isinstance(roles_node, list) or not all(
        isinstance(role, str) and _AGENT.match(role) for role in cast(list[Any], roles_node)
    ):
        issues.append(Issue(file, node.line_of("roles"), "'roles' must be a list of role names"))
    else:
        roles = [str(role) for role in cast(list[Any], roles_node)]
    payload = node.get("payload")
    if payload is not None and not isinstance(payload, dict):
        issues.append(Issue(file, node.line_of("payload"), "'payload' must be a mapping"))
    dlp_action = node.get("dlp_action")
    if dlp_action is not None and dlp_action not in DLP_ACTIONS:
        issues.append(
            Issue(
                file,
                node.line_of("dlp_action"),
                f"'dlp_action' must be one of {', '.join(DLP_ACTIONS)}, got {dlp_action!r}",
            )
        )
    title = node.get("name")
    if title is not None and not isinstance(title, str):
        issues.append(Issue(file, node.line_of("name"), "'name' must be text"))
    if len(issues) > before:
        return None
    return PolicyTestCase(
        file=name,
        line=line,
        name=title or f"{values['from']} -> {values['to']} {values['type']}",
        sender=values["from"],
        target=values["to"],
        message_type=values["type"],
        expect="allow" if expect == "allow" else "deny",
        roles=tuple(roles),
        payload=plain(payload) if payload is not None else None,
        dlp_action=dlp_action,
    )


def parse_cases(sources: PolicySources) -> list[PolicyTestCase]:
    """Every case of every `tests/*.yaml` file; `PolicyError` listing all problems."""
    cases: list[PolicyTestCase] = []
    issues: list[Issue] = []
    for name in sources.names_under(TESTS_DIR, (".yaml", ".yml")):
        file = sources.display(name)
        try:
            document = load_yaml(sources.text(name), file)
        except PolicyError as exc:
            issues.extend(exc.issues)
            continue
        if not isinstance(document, LineDict) or not isinstance(document.get("cases"), LineList):
            issues.append(Issue(file, 1, "expected a mapping with a 'cases' list"))
            continue
        issues.extend(
            Issue(
                file,
                document.line_of(key),
                f"unknown key {key!r}; expected {', '.join(_FILE_KEYS)}",
            )
            for key in document
            if key not in _FILE_KEYS
        )
        listed: LineList = document["cases"]
        for node, line in zip(listed, listed.item_lines, strict=True):
            case = _case(node, name, file, line, issues)
            if case is not None:
                cases.append(case)
    if issues:
        raise PolicyError(issues)
    return cases
