"""Authorization policy: the files in `policies/` loaded into immutable, tested versions.

`PolicyStore.load(dir)` gives the version in force; `store.current.decide(sender,
target, message_type, extra_roles)` answers with a `Decision` naming its rule.
"""

from __future__ import annotations

import typing as _typing

from mas.lazy import lazy_attributes as _lazy_attributes

if _typing.TYPE_CHECKING:
    from .cases import DLP_ACTIONS, PolicyTestCase
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
    from .dlp_check import dlp_check_for
    from .errors import Issue, PolicyError
    from .loader import build_policy_set, load_policy_set
    from .policyset import PolicySet
    from .ratelimits import RateLimit, RateLimits
    from .rules import BASE_ROLE, Link, Rule
    from .sources import PolicySources, read_sources
    from .store import DlpFactory, PolicyStore, ReloadResult, load_verified
    from .testing import CaseResult, Difference, DlpCheck, PolicyTestReport, run_policy_tests
    from .watch import PolicyWatcher

__all__ = [
    "BASE_ROLE",
    "DEFAULT_DENY",
    "DLP_ACTIONS",
    "ENGINE_MISMATCH",
    "GROUP_NAME_GUARD",
    "ROLE_NAME_GUARD",
    "CaseResult",
    "Decision",
    "Difference",
    "DlpCheck",
    "DlpFactory",
    "Issue",
    "Link",
    "PolicyError",
    "PolicySet",
    "PolicySources",
    "PolicyStore",
    "PolicyTestCase",
    "PolicyTestReport",
    "PolicyWatcher",
    "RateLimit",
    "RateLimits",
    "ReloadResult",
    "RoleStep",
    "Rule",
    "RuleMatch",
    "ShadowDecision",
    "build_policy_set",
    "dlp_check_for",
    "load_policy_set",
    "load_verified",
    "read_sources",
    "run_policy_tests",
]

_HOMES = {
    "BASE_ROLE": ".rules",
    "CaseResult": ".testing",
    "DEFAULT_DENY": ".decision",
    "DLP_ACTIONS": ".cases",
    "Decision": ".decision",
    "Difference": ".testing",
    "DlpCheck": ".testing",
    "DlpFactory": ".store",
    "ENGINE_MISMATCH": ".decision",
    "GROUP_NAME_GUARD": ".decision",
    "Issue": ".errors",
    "Link": ".rules",
    "PolicyError": ".errors",
    "PolicySet": ".policyset",
    "PolicySources": ".sources",
    "PolicyStore": ".store",
    "PolicyTestCase": ".cases",
    "PolicyTestReport": ".testing",
    "PolicyWatcher": ".watch",
    "ROLE_NAME_GUARD": ".decision",
    "RateLimit": ".ratelimits",
    "RateLimits": ".ratelimits",
    "ReloadResult": ".store",
    "RoleStep": ".decision",
    "Rule": ".rules",
    "RuleMatch": ".decision",
    "ShadowDecision": ".decision",
    "build_policy_set": ".loader",
    "dlp_check_for": ".dlp_check",
    "load_policy_set": ".loader",
    "load_verified": ".store",
    "read_sources": ".sources",
    "run_policy_tests": ".testing",
}


__getattr__ = _lazy_attributes(__name__, _HOMES)
