"""Parse `policy.csv` (p lines) and `roles.csv` (g and g2 lines) with file:line errors."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Literal

import casbin

from mas.patterns import AGENT_ID_PATTERN

from .errors import Issue
from .sources import POLICY_FILE, ROLES_FILE, PolicySources

__all__ = [
    "BASE_ROLE",
    "EFFECTS",
    "Link",
    "Rule",
    "parse_policy_lines",
    "parse_role_lines",
]

BASE_ROLE = "agent"
"""The implicit role every authenticated agent holds."""

EFFECTS = ("allow", "deny", "shadow-allow", "shadow-deny")
_NAME = re.compile(AGENT_ID_PATTERN)
_TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-*?\[\]{},!]{1,200}$")


@dataclass(frozen=True)
class Rule:
    """One p line: `subject` may send `message_type` (glob) to `target`, or may not."""

    file: str
    line: int
    sub: str
    obj: str
    act: str
    eft: str

    @property
    def ref(self) -> str:
        """`policy.csv:12`: how audit entries and explanations name the rule."""
        return f"{self.file}:{self.line}"

    @property
    def shadow(self) -> bool:
        """A shadow rule is evaluated and recorded but never decides."""
        return self.eft.startswith("shadow-")

    @property
    def effect(self) -> Literal["allow", "deny"]:
        """`allow` or `deny`, with any shadow marker removed."""
        return "deny" if self.eft.endswith("deny") else "allow"

    @property
    def values(self) -> list[str]:
        """The values Casbin sees: [sub, obj, act, eft]."""
        return [self.sub, self.obj, self.act, self.eft]

    def __str__(self) -> str:
        return f"p, {self.sub}, {self.obj}, {self.act}, {self.eft}"


@dataclass(frozen=True)
class Link:
    """One g line (member holds role `parent`) or g2 line (target is in group `parent`)."""

    kind: Literal["g", "g2"]
    member: str
    parent: str
    file: str
    line: int

    @property
    def ref(self) -> str:
        """`roles.csv:7`."""
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.kind}, {self.member}, {self.parent}"


def _rows(sources: PolicySources, name: str) -> list[tuple[int, list[str]]]:
    """Non-empty, non-comment lines split on commas (text after `#` is a comment)."""
    rows: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(sources.text(name).splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = next(csv.reader([line], skipinitialspace=True))
        rows.append((number, [value.strip() for value in fields]))
    return rows


def _count(fields: list[str]) -> str:
    values = len(fields) - 1
    return f"{values} value{'' if values == 1 else 's'}"


def _name_issue(file: str, line: int, what: str, value: str) -> Issue | None:
    if _NAME.match(value):
        return None
    return Issue(
        file,
        line,
        f"{what} {value!r} is not a valid name (letters, digits, '_', '.', '-'; at most 128)",
    )


def _type_issue(file: str, line: int, pattern: str) -> Issue | None:
    if not _TYPE_PATTERN.match(pattern):
        return Issue(file, line, f"message type pattern {pattern!r} has characters not allowed")
    try:
        casbin.util.glob_match("mas.probe", pattern)
    except Exception as exc:
        return Issue(file, line, f"message type pattern {pattern!r} is not a valid glob: {exc}")
    return None


def parse_policy_lines(sources: PolicySources) -> tuple[list[Rule], list[Issue]]:
    """Rules of `policy.csv` in file order, and the problems found."""
    file = sources.display(POLICY_FILE)
    rules: list[Rule] = []
    issues: list[Issue] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for number, fields in _rows(sources, POLICY_FILE):
        kind = fields[0]
        if kind in ("g", "g2"):
            issues.append(Issue(file, number, f"{kind} lines belong in {ROLES_FILE}"))
            continue
        if kind != "p":
            issues.append(Issue(file, number, f"unknown line type {kind!r}; expected 'p'"))
            continue
        if len(fields) != 5:
            issues.append(
                Issue(
                    file,
                    number,
                    f"expected 'p, subject, target, message_type, effect', got {_count(fields)}",
                )
            )
            continue
        sub, obj, act, eft = fields[1:]
        problems = [
            _name_issue(file, number, "subject", sub),
            None if obj == "*" else _name_issue(file, number, "target", obj),
            _type_issue(file, number, act),
        ]
        if eft not in EFFECTS:
            problems.append(
                Issue(file, number, f"unknown effect {eft!r}; expected {', '.join(EFFECTS)}")
            )
        found = [problem for problem in problems if problem is not None]
        if found:
            issues.extend(found)
            continue
        key = (sub, obj, act, eft)
        if key in seen:
            issues.append(Issue(file, number, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = number
        rules.append(Rule(POLICY_FILE, number, sub, obj, act, eft))
    return rules, issues


def parse_role_lines(sources: PolicySources) -> tuple[list[Link], list[Issue]]:
    """g and g2 lines of `roles.csv` in file order, and the problems found."""
    file = sources.display(ROLES_FILE)
    links: list[Link] = []
    issues: list[Issue] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, fields in _rows(sources, ROLES_FILE):
        kind = fields[0]
        if kind == "p":
            issues.append(Issue(file, number, f"p lines belong in {POLICY_FILE}"))
            continue
        if kind not in ("g", "g2"):
            issues.append(Issue(file, number, f"unknown line type {kind!r}; expected 'g' or 'g2'"))
            continue
        if len(fields) != 3:
            shape = "g, member, role" if kind == "g" else "g2, target, group"
            issues.append(Issue(file, number, f"expected '{shape}', got {_count(fields)}"))
            continue
        member, parent = fields[1], fields[2]
        what = ("member", "role") if kind == "g" else ("target", "group")
        found = [
            problem
            for problem in (
                _name_issue(file, number, what[0], member),
                _name_issue(file, number, what[1], parent),
            )
            if problem is not None
        ]
        if kind == "g" and BASE_ROLE in (member, parent):
            found.append(
                Issue(
                    file,
                    number,
                    f"the base role {BASE_ROLE!r} is implicit for every agent; "
                    f"do not assign it in {ROLES_FILE}",
                )
            )
        if found:
            issues.extend(found)
            continue
        key = (kind, member, parent)
        if key in seen:
            issues.append(Issue(file, number, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = number
        links.append(Link("g" if kind == "g" else "g2", member, parent, ROLES_FILE, number))
    return links, issues
