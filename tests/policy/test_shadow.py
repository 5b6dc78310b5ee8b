"""Shadow rules: evaluated on live traffic, their would-be decision recorded, never enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from mas.errors import Forbidden
from mas_gateway.policy import DEFAULT_DENY, PolicyStore, load_policy_set

from .conftest import REPO_POLICIES, line_of
from .test_authz_stage import authorize, context

SHADOW_DENY = "p, external, clinicians, analytics.*, shadow-deny"


async def test_shadow_deny_is_recorded_and_the_message_still_passes() -> None:
    store = PolicyStore.load(REPO_POLICIES)
    shadow_ref = f"policy.csv:{line_of(REPO_POLICIES / 'policy.csv', SHADOW_DENY)}"
    ctx = context("external-analytics", "doctor", "analytics.aggregate_request")
    await authorize(store, ctx)
    assert ctx.authz_rule != shadow_ref
    assert ctx.shadow_decisions == [
        {"rule": shadow_ref, "effect": "deny", "would_be": "deny", "actual": "allow"}
    ]


async def test_shadow_allow_does_not_open_a_route(policies: Path) -> None:
    csv = policies / "policy.csv"
    csv.write_text(
        csv.read_text() + "p, specialist, patients, consultation.response, shadow-allow\n"
    )
    line = len(csv.read_text().splitlines())
    store = PolicyStore.load(policies)
    ctx = context("specialist", "patient", "consultation.response")
    with pytest.raises(Forbidden, match="no rule allows it"):
        await authorize(store, ctx)
    assert ctx.authz_rule == DEFAULT_DENY
    assert ctx.shadow_decisions == [
        {"rule": f"policy.csv:{line}", "effect": "allow", "would_be": "allow", "actual": "deny"}
    ]


def test_shadow_rules_are_matched_but_never_decide() -> None:
    policy = load_policy_set(REPO_POLICIES)
    decision = policy.decide("external-analytics", "doctor", "analytics.aggregate_request")
    shadow_ref = f"policy.csv:{line_of(REPO_POLICIES / 'policy.csv', SHADOW_DENY)}"
    assert decision.allowed
    assert shadow_ref in [match.rule.ref for match in decision.matched]
    assert shadow_ref not in decision.deciding


def test_no_shadow_entry_when_no_shadow_rule_matches() -> None:
    policy = load_policy_set(REPO_POLICIES)
    assert policy.decide("patient", "doctor", "consultation.request").shadow == ()
