"""Authorization policy: the files in `policies/` loaded into immutable, tested versions.

`PolicyStore.load(dir)` gives the version in force; `store.current.decide(sender,
target, message_type, extra_roles)` answers with a `Decision` naming its rule.
"""

from __future__ import annotations

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
