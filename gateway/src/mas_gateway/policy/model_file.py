"""Parse and validate `model.conf`: the Casbin model MAS relies on, with file:line errors.

The gateway's explanations and shadow rules assume this exact request, policy, role
and effect shape; only the matcher expression is free (within known names and
functions), and the policy tests check what it does.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import casbin
from casbin.core_enforcer import CoreEnforcer

from .errors import Issue, PolicyError
from .sources import MODEL_FILE, PolicySources

__all__ = ["MATCHER_FUNCTIONS", "ModelSpec", "parse_model"]

EXPECTED: dict[tuple[str, str], str] = {
    ("request_definition", "r"): "sub, obj, act",
    ("policy_definition", "p"): "sub, obj, act, eft",
    ("role_definition", "g"): "_, _",
    ("role_definition", "g2"): "_, _",
    ("policy_effect", "e"): "some(where (p.eft == allow)) && !some(where (p.eft == deny))",
}
MEANING: dict[tuple[str, str], str] = {
    ("request_definition", "r"): "requests are (sender, target, message_type)",
    ("policy_definition", "p"): "policy lines are (subject, target, message_type, effect)",
    ("role_definition", "g"): "g maps an agent or role to a role",
    ("role_definition", "g2"): "g2 maps a target agent or group to a group",
    ("policy_effect", "e"): "default deny, and an explicit deny overrides any allow",
}
SECTIONS = (
    "request_definition",
    "policy_definition",
    "role_definition",
    "policy_effect",
    "matchers",
)
MATCHER_FUNCTIONS = frozenset(
    {"g", "g2", "globMatch", "keyMatch", "keyMatch2", "keyMatch3", "keyMatch4", "keyMatch5",
     "regexMatch"}
)  # fmt: skip
MATCHER_NAMES = frozenset({"r_sub", "r_obj", "r_act", "p_sub", "p_obj", "p_act", "p_eft"})
_KEY_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


@dataclass(frozen=True)
class ModelSpec:
    """The validated model text and where its matcher is."""

    text: str
    matcher_line: int


def _normal(value: str) -> str:
    return " ".join(value.replace(" ,", ",").split())


def _scan(text: str, file: str) -> tuple[dict[tuple[str, str], tuple[int, str]], list[Issue]]:
    """Sections and `key = value` lines with their line numbers (continuations joined)."""
    found: dict[tuple[str, str], tuple[int, str]] = {}
    issues: list[Issue] = []
    section: str | None = None
    seen_sections: dict[str, int] = {}
    pending: tuple[int, str, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if pending is not None:
            start, key, value = pending
            joined = value + " " + line.removesuffix("\\").strip()
            if line.endswith("\\"):
                pending = (start, key, joined)
                continue
            pending = None
            found[(section or "", key)] = (start, joined.strip())
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                issues.append(Issue(file, number, f"malformed section header {line!r}"))
                continue
            section = line[1:-1].strip()
            if section not in SECTIONS:
                issues.append(
                    Issue(
                        file, number, f"unknown section [{section}]; expected {', '.join(SECTIONS)}"
                    )
                )
            elif section in seen_sections:
                issues.append(
                    Issue(
                        file, number, f"section [{section}] repeats line {seen_sections[section]}"
                    )
                )
            seen_sections.setdefault(section, number)
            continue
        match = _KEY_LINE.match(line)
        if match is None:
            issues.append(Issue(file, number, f"expected 'key = value', got {line!r}"))
            continue
        if section is None:
            issues.append(Issue(file, number, "definition outside of a [section]"))
            continue
        key, value = match.group(1), match.group(2)
        if (section, key) in found:
            issues.append(
                Issue(file, number, f"{key} repeats line {found[(section, key)][0]} in [{section}]")
            )
            continue
        if value.endswith("\\"):
            pending = (number, key, value.removesuffix("\\").strip())
            continue
        found[(section, key)] = (number, value.strip())
    if pending is not None:
        issues.append(Issue(file, pending[0], "line continuation runs past the end of the file"))
    issues.extend(
        Issue(file, 0, f"missing section [{name}]")
        for name in SECTIONS
        if name not in seen_sections
    )
    return found, issues


def _check_shape(found: dict[tuple[str, str], tuple[int, str]], file: str) -> list[Issue]:
    issues: list[Issue] = []
    for (section, key), expected in EXPECTED.items():
        entry = found.get((section, key))
        meaning = MEANING[(section, key)]
        if entry is None:
            issues.append(Issue(file, 0, f"[{section}] needs '{key} = {expected}' ({meaning})"))
        elif _normal(entry[1]) != _normal(expected):
            issues.append(
                Issue(file, entry[0], f"{key} must be '{expected}' ({meaning}), got {entry[1]!r}")
            )
    for (section, key), (number, _value) in found.items():
        if section in ("matchers",) and key != "m":
            issues.append(Issue(file, number, f"unsupported matcher {key!r}; only 'm' is used"))
        elif section != "matchers" and (section, key) not in EXPECTED:
            issues.append(Issue(file, number, f"unsupported definition {key!r} in [{section}]"))
    return issues


def _check_matcher(matcher: str, file: str, line: int) -> list[Issue]:
    """The matcher compiles in Casbin's evaluator and uses only known names and functions."""
    escaped = casbin.util.escape_assertion(matcher)
    try:
        expression = CoreEnforcer._get_expression(escaped)  # pyright: ignore[reportPrivateUsage]
    except SyntaxError as exc:
        return [Issue(file, line, f"matcher is not a valid expression: {exc.msg}")]
    issues: list[Issue] = []
    tree = expression.ast_parsed_value
    if not isinstance(tree, ast.AST):
        return [Issue(file, line, "matcher is empty")]
    calls = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in MATCHER_FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                known = ", ".join(sorted(MATCHER_FUNCTIONS))
                issues.append(Issue(file, line, f"unknown matcher function {name!r}; use {known}"))
        elif isinstance(node, ast.Name) and id(node) not in calls and node.id not in MATCHER_NAMES:
            shown = node.id.replace("_", ".", 1)
            issues.append(
                Issue(
                    file,
                    line,
                    f"unknown name {shown!r} in matcher; use r.sub/obj/act, p.sub/obj/act",
                )
            )
    if not any(isinstance(node, ast.Name) and node.id == "r_sub" for node in ast.walk(tree)):
        issues.append(Issue(file, line, "matcher never looks at the sender (r.sub)"))
    return issues


def parse_model(sources: PolicySources) -> ModelSpec:
    """Validate `model.conf`; `PolicyError` listing every problem with its line."""
    file = sources.display(MODEL_FILE)
    text = sources.text(MODEL_FILE)
    found, issues = _scan(text, file)
    issues.extend(_check_shape(found, file))
    matcher = found.get(("matchers", "m"))
    if matcher is None:
        issues.append(Issue(file, 0, "[matchers] needs 'm = ...' (when a policy line applies)"))
    else:
        issues.extend(_check_matcher(matcher[1], file, matcher[0]))
    if not issues:
        try:
            casbin.Enforcer.new_model(text=text)
        except Exception as exc:
            issues.append(Issue(file, 0, f"Casbin cannot load the model: {exc}"))
    if issues:
        raise PolicyError(issues)
    assert matcher is not None
    return ModelSpec(text=text, matcher_line=matcher[0])
