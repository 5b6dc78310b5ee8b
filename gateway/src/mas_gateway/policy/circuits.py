"""Parse the optional `circuits.yaml`: a circuit breaker per target agent, per role, or default.

Without the file no target has a circuit. An entry says when a target's circuit
opens (trip conditions), how long it stays open, and how many parked messages
are released as probes while it is half-open. The most specific entry applies: the
target's own (``targets``), else the first of its roles listed under ``roles``
(roles from roles.csv, in the file's order), else ``default``. An entry of
``null`` gives that target or role no circuit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mas.envelope import AGENT_ID_PATTERN

from .errors import Issue, PolicyError
from .sources import PolicySources
from .yaml_lines import LineDict, load_yaml

__all__ = ["CIRCUITS_FILE", "CircuitPolicy", "CircuitSpec", "FailureRatio", "parse_circuits"]

CIRCUITS_FILE = "circuits.yaml"

_NAME = re.compile(AGENT_ID_PATTERN)
_TOP_KEYS = ("default", "roles", "targets")
_SPEC_KEYS = (
    "consecutive_failures",
    "failure_ratio",
    "max_backlog",
    "require_live",
    "open_s",
    "half_open_probes",
    "release_batch",
)
_RATIO_KEYS = ("ratio", "interval_s", "min_calls")


@dataclass(frozen=True)
class FailureRatio:
    """Trip when at least `ratio` of at least `min_calls` handled calls in `interval_s` failed."""

    ratio: float
    interval_s: float
    min_calls: int


@dataclass(frozen=True)
class CircuitSpec:
    """When one target's circuit opens and how it closes again."""

    consecutive_failures: int | None = None
    """Trip after this many failed or dead-lettered deliveries with no success between."""
    failure_ratio: FailureRatio | None = None
    max_backlog: int | None = None
    """Trip when the target's inbox holds more entries than this."""
    require_live: bool = False
    """Trip while the target has no live instance (no heartbeat, or not ACTIVE)."""
    open_s: float = 30.0
    """How long the circuit stays open before half-open probing."""
    half_open_probes: int = 1
    """Parked messages released while half-open; all must succeed to close the circuit."""
    release_batch: int = 100
    """Parked messages moved to the inbox per atomic step once closed."""
    source: str = ""
    """Where it is defined, e.g. ``circuits.yaml:4 (default)``."""


@dataclass(frozen=True)
class CircuitPolicy:
    """The circuit entries of one policy version (empty: no circuits)."""

    default: CircuitSpec | None = None
    roles: Mapping[str, CircuitSpec | None] = field(default_factory=dict[str, CircuitSpec | None])
    targets: Mapping[str, CircuitSpec | None] = field(default_factory=dict[str, CircuitSpec | None])

    @property
    def empty(self) -> bool:
        """True when no target can have a circuit."""
        return (
            self.default is None and not any(self.roles.values()) and not any(self.targets.values())
        )

    def for_target(self, agent_id: str, roles: Iterable[str]) -> CircuitSpec | None:
        """The entry that applies to `agent_id` holding `roles`, or None (no circuit)."""
        if agent_id in self.targets:
            return self.targets[agent_id]
        held = set(roles)
        for role, spec in self.roles.items():  # file order: the first listed role wins
            if role in held:
                return spec
        return self.default


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[Issue] = []

    def problem(self, line: int, message: str) -> None:
        self.issues.append(Issue(self.file, line, message))

    def unknown(self, node: LineDict, allowed: tuple[str, ...], label: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(
                    node.line_of(key),
                    f"{label}: unknown key {key!r} (use {', '.join(allowed)})",
                )

    def ratio(self, node: Any, line: int, label: str) -> FailureRatio | None:
        if not isinstance(node, LineDict):
            self.problem(line, f"{label}: 'failure_ratio' must be a mapping with ratio, "
                         "interval_s and min_calls")  # fmt: skip
            return None
        self.unknown(node, _RATIO_KEYS, f"{label}.failure_ratio")
        ratio = _number(node.get("ratio"))
        interval = _number(node.get("interval_s"))
        calls = _count(node.get("min_calls", 1))
        ok = True
        if ratio is None or not 0 < ratio <= 1:
            self.problem(node.line_of("ratio"), f"{label}: 'ratio' must be a number in (0, 1]")
            ok = False
        if interval is None or interval <= 0:
            self.problem(node.line_of("interval_s"), f"{label}: 'interval_s' must be seconds > 0")
            ok = False
        if calls is None:
            self.problem(node.line_of("min_calls"), f"{label}: 'min_calls' must be an integer >= 1")
            ok = False
        if not ok or ratio is None or interval is None or calls is None:
            return None
        return FailureRatio(ratio, interval, calls)

    def spec(self, node: Any, line: int, label: str) -> CircuitSpec | None:
        if not isinstance(node, LineDict):
            self.problem(line, f"{label}: expected a mapping of circuit settings (or null)")
            return None
        before = len(self.issues)
        self.unknown(node, _SPEC_KEYS, label)
        values: dict[str, Any] = {}
        for key in ("consecutive_failures", "max_backlog", "half_open_probes", "release_batch"):
            if key in node:
                value = _count(node[key])
                if value is None:
                    self.problem(node.line_of(key), f"{label}: {key!r} must be an integer >= 1")
                else:
                    values[key] = value
        if "open_s" in node:
            seconds = _number(node["open_s"])
            if seconds is None or seconds <= 0:
                self.problem(node.line_of("open_s"), f"{label}: 'open_s' must be seconds > 0")
            else:
                values["open_s"] = seconds
        if "require_live" in node:
            if not isinstance(node["require_live"], bool):
                self.problem(
                    node.line_of("require_live"), f"{label}: 'require_live' must be true or false"
                )
            else:
                values["require_live"] = node["require_live"]
        if "failure_ratio" in node:
            values["failure_ratio"] = self.ratio(
                node["failure_ratio"], node.line_of("failure_ratio"), label
            )
        if len(self.issues) > before:
            return None
        spec = CircuitSpec(**values, source=f"{CIRCUITS_FILE}:{line} ({label})")
        trips = (spec.consecutive_failures, spec.failure_ratio, spec.max_backlog)
        if all(t is None for t in trips) and not spec.require_live:
            self.problem(
                line,
                f"{label}: no trip condition; set consecutive_failures, failure_ratio, "
                "max_backlog or require_live (or null for no circuit)",
            )
            return None
        return spec

    def section(self, document: LineDict, name: str) -> dict[str, CircuitSpec | None]:
        section = document.get(name)
        if section is None:
            return {}
        if not isinstance(section, LineDict):
            self.problem(document.line_of(name), f"'{name}' must map names to circuit settings")
            return {}
        out: dict[str, CircuitSpec | None] = {}
        for key, node in section.items():
            line = section.line_of(key)
            if not isinstance(key, str) or not _NAME.match(key):
                self.problem(line, f"{name}: {key!r} is not a valid {name[:-1]} name")
                continue
            out[key] = None if node is None else self.spec(node, line, key)
        return out


def parse_circuits(sources: PolicySources) -> CircuitPolicy:
    """Validate `circuits.yaml` if present; `PolicyError` listing every problem with its line."""
    if CIRCUITS_FILE not in sources.files:
        return CircuitPolicy()
    file = sources.display(CIRCUITS_FILE)
    document = load_yaml(sources.text(CIRCUITS_FILE), file)
    if document is None:
        return CircuitPolicy()
    if not isinstance(document, LineDict):
        raise PolicyError([Issue(file, 1, "expected a mapping with default, roles, targets")])
    parser = _Parser(file)
    for key in document:
        if key not in _TOP_KEYS:
            parser.problem(
                document.line_of(key), f"unknown key {key!r}; expected {', '.join(_TOP_KEYS)}"
            )
    default = None
    if document.get("default") is not None:
        default = parser.spec(document["default"], document.line_of("default"), "default")
    roles = parser.section(document, "roles")
    targets = parser.section(document, "targets")
    if parser.issues:
        raise PolicyError(parser.issues)
    return CircuitPolicy(default=default, roles=roles, targets=targets)
