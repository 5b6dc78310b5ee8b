"""PolicySet: one immutable, validated version of `policies/`, answering authorization questions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from .cases import PolicyTestCase
from .circuits import CircuitPolicy, CircuitSpec
from .decision import (
    DEFAULT_DENY,
    ENGINE_MISMATCH,
    GROUP_NAME_GUARD,
    ROLE_NAME_GUARD,
    Decision,
    RoleStep,
    RuleMatch,
    ShadowDecision,
)
from .engine import CasbinEngine
from .errors import Issue
from .model_file import ModelSpec
from .ratelimits import RateLimit, RateLimits
from .roles import RoleGraph
from .rules import BASE_ROLE, Link, Rule
from .sources import PolicySources

__all__ = ["PolicySet"]

log = logging.getLogger(__name__)

CACHE_SIZE = 8192
"""Decisions kept per policy version; the cache is emptied when it fills up."""

_CacheKey = tuple[str, tuple[str, ...], str, str]


def _shown(value: str, limit: int = 80) -> str:
    """A request value fit for a one-line reason (message types come from the sender)."""
    return value if len(value) <= limit else value[:limit] + "..."


class PolicySet:
    """A policy version: decisions, roles, groups and rate limits. Never changes once built."""

    def __init__(
        self,
        *,
        sources: PolicySources,
        model: ModelSpec,
        rules: Sequence[Rule],
        links: Sequence[Link],
        ratelimits: RateLimits,
        circuits: CircuitPolicy | None = None,
        test_cases: Sequence[PolicyTestCase] = (),
        warnings: Sequence[Issue] = (),
    ) -> None:
        self.sources = sources
        self.version = sources.version
        self.model = model
        self.rules = tuple(rules)
        self.links = tuple(links)
        self.ratelimits = ratelimits
        self.circuits = circuits or CircuitPolicy()
        self.test_cases = tuple(test_cases)
        self.warnings = tuple(warnings)
        self.roles_graph = RoleGraph([link for link in links if link.kind == "g"])
        self.groups_graph = RoleGraph([link for link in links if link.kind == "g2"])
        self._role_names = self.roles_graph.parent_names | {BASE_ROLE}
        self._engine = CasbinEngine(model, self.rules, self.links)
        self._cache: dict[_CacheKey, Decision] = {}
        self._lock = threading.Lock()

    @property
    def files(self) -> Mapping[str, bytes]:
        """Bytes of every file of this version (e.g. for the DLP rules), by relative path."""
        return self.sources.files

    def roles_of(self, agent_id: str, extra_roles: Iterable[str] = ()) -> tuple[str, ...]:
        """Every role of an agent: roles.csv, `extra_roles` (registry) and `agent`, with parents."""
        direct = {link.parent for link in self.roles_graph.parents(agent_id)}
        direct.update(extra_roles)
        direct.add(BASE_ROLE)
        return tuple(sorted(direct | self.roles_graph.closure(direct)))

    def groups_of(self, target: str) -> tuple[str, ...]:
        """Every group a target agent is in (g2 lines, with parent groups)."""
        return tuple(sorted(self.groups_graph.closure([target])))

    def rate_limit_for(self, roles: Iterable[str]) -> RateLimit:
        """The most generous limit among `roles` and their parent roles, else the default."""
        given = set(roles)
        return self.ratelimits.for_roles(given | self.roles_graph.closure(given))

    def circuit_for(self, target: str) -> CircuitSpec | None:
        """The circuit breaker settings of a target agent (None: it has no circuit)."""
        if self.circuits.empty:
            return None
        return self.circuits.for_target(target, self.roles_of(target))

    def decide(
        self,
        sender: str,
        target: str,
        message_type: str,
        extra_roles: Iterable[str] = (),
    ) -> Decision:
        """Allow or deny; default deny, an explicit deny overrides any allow. Cached per request."""
        extras = tuple(sorted(set(extra_roles)))
        key = (sender, extras, target, message_type)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._lock:
            decision = self._evaluate(sender, target, message_type, extras)
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = decision
        return decision

    # -- evaluation ------------------------------------------------------------
    def _subjects(self, sender: str, extras: tuple[str, ...]) -> list[tuple[str, str]]:
        """(subject, how the sender has it) pairs Casbin is asked about."""
        subjects = [(sender, "")]
        subjects += [(role, "registry") for role in extras if role != sender]
        if sender != BASE_ROLE and BASE_ROLE not in extras:
            subjects.append((BASE_ROLE, "implicit"))
        return subjects

    def _chain(self, sender: str, subject: str, via: str, goal: str) -> tuple[RoleStep, ...]:
        steps = [RoleStep(sender)]
        if via:
            steps.append(RoleStep(subject, via))
        links = self.roles_graph.chain(subject, goal) or []
        steps.extend(RoleStep(link.parent, link.ref) for link in links)
        return tuple(steps)

    def _evaluate(
        self, sender: str, target: str, message_type: str, extras: tuple[str, ...]
    ) -> Decision:
        roles = self.roles_of(sender, extras)
        groups = self.groups_of(target)
        common = {"roles": roles, "target_groups": groups, "version": self.version}
        request = f"{sender} -> {target} {_shown(message_type)}"
        start = (RoleStep(sender),)
        if sender in self._role_names and sender not in roles:
            reason = (
                f"{request}: denied: the agent id {sender!r} is a role name the agent does not "
                "hold (assign it in roles.csv or rename the agent)"
            )
            return Decision(False, ROLE_NAME_GUARD, reason, start, **common)
        if target in self.groups_graph.parent_names and target not in groups:
            reason = (
                f"{request}: denied: the target id {target!r} is a group name it is not in "
                "(add it to the group in roles.csv or rename the agent)"
            )
            return Decision(False, GROUP_NAME_GUARD, reason, start, **common)

        subjects = self._subjects(sender, extras)
        matched: list[RuleMatch] = []
        for rule in self.rules:
            for subject, via in subjects:
                if self._engine.matches(subject, target, message_type, rule):
                    chain = self._chain(sender, subject, via, rule.sub)
                    matched.append(RuleMatch(rule, chain))
                    break
        enforced = [match for match in matched if not match.rule.shadow]
        allowed, deciding = _combine(enforced)

        if allowed != self._casbin_allows(subjects, target, message_type):
            log.error(
                "policy %s: Casbin and the rule-by-rule evaluation disagree on %s; denying",
                self.version[:12],
                request,
            )
            reason = f"{request}: denied: policy evaluation inconsistent (fail closed)"
            return Decision(False, ENGINE_MISMATCH, reason, start, matched=tuple(matched), **common)

        actual: Literal["allow", "deny"] = "allow" if allowed else "deny"
        shadow: tuple[ShadowDecision, ...] = ()
        shadows = [match for match in matched if match.rule.shadow]
        if shadows:
            would_allow, _ = _combine(matched)
            would_be: Literal["allow", "deny"] = "allow" if would_allow else "deny"
            shadow = tuple(
                ShadowDecision(match.rule.ref, match.rule.effect, would_be, actual)
                for match in shadows
            )
        if deciding:
            first = deciding[0]
            verb = "allowed" if allowed else "denied"
            reason = f"{request}: {verb} by {first.rule.ref} ({first.rule})"
            return Decision(
                allowed,
                first.rule.ref,
                reason,
                first.chain,
                shadow=shadow,
                matched=tuple(matched),
                deciding=tuple(match.rule.ref for match in deciding),
                **common,
            )
        reason = f"{request}: denied: no rule allows it ({DEFAULT_DENY})"
        return Decision(
            False, DEFAULT_DENY, reason, start, shadow=shadow, matched=tuple(matched), **common
        )

    def _casbin_allows(self, subjects: list[tuple[str, str]], target: str, act: str) -> bool:
        """Casbin's verdict for a sender holding every subject: any allow, and no explicit deny."""
        allowed = False
        for subject, _via in subjects:
            ok, explain = self._engine.enforce(subject, target, act)
            if ok:
                allowed = True
            elif len(explain) == 4 and explain[3] == "deny":
                return False
        return allowed


def _combine(matches: Sequence[RuleMatch]) -> tuple[bool, list[RuleMatch]]:
    """Deny overrides allow, default deny: the verdict and the matches that give it."""
    denies = [match for match in matches if match.rule.effect == "deny"]
    if denies:
        return False, denies
    allows = [match for match in matches if match.rule.effect == "allow"]
    return bool(allows), allows
