"""What an authorization decision says: the verdict, the rule(s) behind it and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .rules import Rule

__all__ = [
    "DEFAULT_DENY",
    "ENGINE_MISMATCH",
    "GROUP_NAME_GUARD",
    "ROLE_NAME_GUARD",
    "Decision",
    "RoleStep",
    "RuleMatch",
    "ShadowDecision",
]

DEFAULT_DENY = "default-deny"
"""`Decision.rule` when no rule matched."""
ROLE_NAME_GUARD = "role-name-guard"
"""`Decision.rule` when a sender's id is a role name it does not hold (it would pose as it)."""
GROUP_NAME_GUARD = "group-name-guard"
"""`Decision.rule` when a target's id is a group name it is not in (it would pose as it)."""
ENGINE_MISMATCH = "engine-mismatch"
"""`Decision.rule` when Casbin and the rule-by-rule evaluation disagree: denied, fail closed."""


@dataclass(frozen=True)
class RoleStep:
    """A role chain step: `name`, reached `via` a roles.csv line, `registry` or `implicit`."""

    name: str
    via: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.via})" if self.via else self.name


@dataclass(frozen=True)
class RuleMatch:
    """A policy line that matched the request, and how the sender reaches its subject."""

    rule: Rule
    chain: tuple[RoleStep, ...]


@dataclass(frozen=True)
class ShadowDecision:
    """What the decision would be if the shadow rules were enforced; recorded, never applied."""

    rule: str
    effect: Literal["allow", "deny"]
    would_be: Literal["allow", "deny"]
    actual: Literal["allow", "deny"]

    def as_dict(self) -> dict[str, Any]:
        """The form stored in `MessageContext.shadow_decisions` and the audit log."""
        return {
            "rule": self.rule,
            "effect": self.effect,
            "would_be": self.would_be,
            "actual": self.actual,
        }


@dataclass(frozen=True)
class Decision:
    """The verdict for (sender, target, message_type) under one policy version."""

    allowed: bool
    rule: str
    """The deciding rule as ``policy.csv:LINE``, or `DEFAULT_DENY` / a guard name."""
    reason: str
    """One line naming the rule; never payload data."""
    role_chain: tuple[RoleStep, ...]
    """How the sender reaches the deciding rule's subject, starting with the sender."""
    shadow: tuple[ShadowDecision, ...] = ()
    matched: tuple[RuleMatch, ...] = ()
    """Every enforced and shadow rule that matched, in file order."""
    deciding: tuple[str, ...] = ()
    """Every rule that alone would give this verdict (all matched denies, or all allows)."""
    roles: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()
    version: str = ""

    @property
    def effect(self) -> Literal["allow", "deny"]:
        """`allow` or `deny`."""
        return "allow" if self.allowed else "deny"
