"""Parse `ratelimits.yaml`: a token bucket (rate per second, burst) per role, and a default."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mas.patterns import AGENT_ID_PATTERN

from .errors import Issue, PolicyError
from .sources import RATELIMITS_FILE, PolicySources
from .yaml_lines import LineDict, load_yaml

__all__ = ["RateLimit", "RateLimits", "parse_ratelimits"]

_NAME = re.compile(AGENT_ID_PATTERN)
_TOP_KEYS = ("default", "roles")


@dataclass(frozen=True, order=True)
class RateLimit:
    """A token bucket: refills `rate` tokens per second, holds at most `burst` tokens."""

    rate: float
    burst: float
    source: str = ""
    """Where it is defined, e.g. ``ratelimits.yaml:12 (patient)``."""


@dataclass(frozen=True)
class RateLimits:
    """The default limit and the limit of each role that has one."""

    default: RateLimit
    roles: Mapping[str, RateLimit]

    def for_roles(self, roles: Iterable[str]) -> RateLimit:
        """The most generous limit (highest rate, then burst) among `roles`, else the default."""
        found = [self.roles[role] for role in roles if role in self.roles]
        if not found:
            return self.default
        return max(found, key=lambda limit: (limit.rate, limit.burst))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _limit(node: Any, file: str, line: int, label: str, issues: list[Issue]) -> RateLimit | None:
    if not isinstance(node, LineDict):
        issues.append(Issue(file, line, f"{label}: expected a mapping with 'rate' and 'burst'"))
        return None
    bad = False
    for key in node:
        if key not in ("rate", "burst"):
            issues.append(
                Issue(file, node.line_of(key), f"{label}: unknown key {key!r} (use rate, burst)")
            )
            bad = True
    rate = _number(node.get("rate"))
    burst = _number(node.get("burst"))
    if rate is None or rate <= 0:
        where = node.line_of("rate")
        issues.append(
            Issue(file, where, f"{label}: 'rate' must be a number of tokens per second > 0")
        )
        bad = True
    if burst is None or burst < 1:
        where = node.line_of("burst")
        issues.append(Issue(file, where, f"{label}: 'burst' must be a number >= 1"))
        bad = True
    if bad or rate is None or burst is None:
        return None
    return RateLimit(rate, burst, f"{RATELIMITS_FILE}:{line} ({label})")


def parse_ratelimits(sources: PolicySources) -> RateLimits:
    """Validate `ratelimits.yaml`; `PolicyError` listing every problem with its line."""
    file = sources.display(RATELIMITS_FILE)
    document = load_yaml(sources.text(RATELIMITS_FILE), file)
    if not isinstance(document, LineDict):
        raise PolicyError([Issue(file, 1, "expected a mapping with 'default' and 'roles'")])
    issues: list[Issue] = [
        Issue(file, document.line_of(key), f"unknown key {key!r}; expected {', '.join(_TOP_KEYS)}")
        for key in document
        if key not in _TOP_KEYS
    ]
    default: RateLimit | None = None
    if "default" not in document:
        issues.append(Issue(file, 1, "missing 'default' (the limit of agents with no listed role)"))
    else:
        default = _limit(document["default"], file, document.line_of("default"), "default", issues)
    roles: dict[str, RateLimit] = {}
    section = document.get("roles", LineDict())
    if section is None:
        section = LineDict()
    if not isinstance(section, LineDict):
        issues.append(
            Issue(file, document.line_of("roles"), "'roles' must map role names to limits")
        )
    else:
        for role, node in section.items():
            line = section.line_of(role)
            if not isinstance(role, str) or not _NAME.match(role):
                issues.append(Issue(file, line, f"{role!r} is not a valid role name"))
                continue
            limit = _limit(node, file, line, role, issues)
            if limit is not None:
                roles[role] = limit
    if issues or default is None:
        raise PolicyError(issues)
    return RateLimits(default=default, roles=roles)
