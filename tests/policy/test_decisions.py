"""Decisions of the repository policy: roles, hierarchy, groups, globs, deny overrides allow."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mas_gateway.policy import (
    DEFAULT_DENY,
    GROUP_NAME_GUARD,
    ROLE_NAME_GUARD,
    PolicySet,
    RoleStep,
    load_policy_set,
)

from .conftest import REPO_POLICIES, line_of


@pytest.fixture(scope="module")
def policy() -> PolicySet:
    return load_policy_set(REPO_POLICIES)


def ref(text: str) -> str:
    """`policy.csv:N` of the policy line equal to `text`."""
    return f"policy.csv:{line_of(REPO_POLICIES / 'policy.csv', text)}"


def test_allowed_route_names_its_rule(policy: PolicySet) -> None:
    decision = policy.decide("patient", "doctor", "consultation.request")
    assert decision.allowed
    assert decision.rule == ref("p, patient, doctors, consultation.request, allow")
    assert decision.rule in decision.reason
    assert decision.version == policy.version


def test_role_hierarchy_doctor_is_a_clinician(policy: PolicySet) -> None:
    decision = policy.decide("doctor", "external-analytics", "analytics.aggregate_response")
    assert decision.allowed
    assert decision.rule == ref("p, clinician, analytics, analytics.*, allow")
    roles_csv = REPO_POLICIES / "roles.csv"
    assert decision.role_chain == (
        RoleStep("doctor"),
        RoleStep("clinician", f"roles.csv:{line_of(roles_csv, 'g, doctor, clinician')}"),
    )
    assert "clinician" in policy.roles_of("doctor")
    assert "clinician" in policy.roles_of("specialist")
    assert "clinician" not in policy.roles_of("patient")


def test_target_groups_from_g2(policy: PolicySet) -> None:
    assert policy.groups_of("doctor") == ("clinicians", "doctors")
    assert policy.groups_of("patient") == ("patients",)
    assert policy.groups_of("nobody") == ()
    # the rule targets the group "doctors"; the doctor is in it, the specialist is not
    assert policy.decide("patient", "doctor", "consultation.request").allowed
    assert not policy.decide("patient", "specialist", "consultation.request").allowed


def test_glob_patterns_on_message_types(policy: PolicySet) -> None:
    assert policy.decide("external-analytics", "doctor", "analytics.aggregate_request").allowed
    assert policy.decide("external-analytics", "doctor", "analytics.x").allowed
    assert not policy.decide("external-analytics", "doctor", "analyticsX").allowed
    assert not policy.decide("external-analytics", "doctor", "report.analytics.x").allowed


def test_default_deny(policy: PolicySet) -> None:
    decision = policy.decide("doctor", "patient", "billing.invoice")
    assert not decision.allowed
    assert decision.rule == DEFAULT_DENY
    assert decision.deciding == ()
    assert "no rule allows" in decision.reason


def test_explicit_deny_overrides_allow(policy: PolicySet) -> None:
    allow = ref("p, external, clinicians, analytics.*, allow")
    deny = ref("p, external, *, analytics.patient_*, deny")
    decision = policy.decide("external-analytics", "doctor", "analytics.patient_records")
    assert not decision.allowed
    assert decision.rule == deny
    assert decision.deciding == (deny,)
    matched = [match.rule.ref for match in decision.matched]
    assert allow in matched and deny in matched


def test_base_role_agent_may_send_errors_anywhere(policy: PolicySet) -> None:
    decision = policy.decide("anyone-at-all", "professor", "mas.error")
    assert decision.allowed
    assert decision.rule == ref("p, agent, *, mas.error, allow")
    assert decision.role_chain == (RoleStep("anyone-at-all"), RoleStep("agent", "implicit"))
    assert policy.roles_of("anyone-at-all") == ("agent",)


def test_extra_roles_from_the_registry(policy: PolicySet) -> None:
    assert not policy.decide("locum", "patient", "consultation.response").allowed
    decision = policy.decide("locum", "patient", "consultation.response", ["doctor"])
    assert decision.allowed
    assert decision.role_chain == (RoleStep("locum"), RoleStep("doctor", "registry"))
    # a registry role inherits like any other role
    assert "clinician" in policy.roles_of("locum", ["doctor"])
    inherited = policy.decide("locum", "external-analytics", "analytics.summary", ["specialist"])
    assert inherited.allowed
    assert [step.name for step in inherited.role_chain] == ["locum", "specialist", "clinician"]


def test_registry_role_cannot_lift_an_explicit_deny(policy: PolicySet) -> None:
    decision = policy.decide(
        "external-analytics", "doctor", "analytics.patient_records", ["clinician"]
    )
    assert not decision.allowed
    assert decision.rule == ref("p, external, *, analytics.patient_*, deny")


def test_agent_named_like_a_role_cannot_pose_as_it(policy: PolicySet) -> None:
    decision = policy.decide("clinician", "external-analytics", "analytics.summary")
    assert not decision.allowed
    assert decision.rule == ROLE_NAME_GUARD
    # holding the role (e.g. from the registry) makes it legitimate
    held = policy.decide("clinician", "external-analytics", "analytics.summary", ["clinician"])
    assert held.allowed


def test_agent_named_like_a_group_cannot_receive_for_it(policy: PolicySet) -> None:
    decision = policy.decide("patient", "doctors", "consultation.request")
    assert not decision.allowed
    assert decision.rule == GROUP_NAME_GUARD


def test_decisions_are_cached_per_request(policy: PolicySet) -> None:
    first = policy.decide("student", "professor", "question.ask")
    assert policy.decide("student", "professor", "question.ask") is first
    assert policy.decide("student", "professor", "question.ask", ["professor"]) is not first


def test_rule_by_rule_evaluation_agrees_with_casbin(policy: PolicySet) -> None:
    """Every explained decision equals Casbin's own verdict over the same subjects."""
    agents = ["patient", "doctor", "specialist", "external-analytics", "student", "x"]
    types = ["consultation.request", "consultation.response", "referral.request",
             "analytics.patient_records", "analytics.aggregate_request", "mas.error",
             "question.ask", "question.answer"]  # fmt: skip
    enforcer = policy._engine  # pyright: ignore[reportPrivateUsage]
    checked = 0
    for sender, target, kind in itertools.product(agents, agents, types):
        decision = policy.decide(sender, target, kind)
        if decision.rule in (ROLE_NAME_GUARD, GROUP_NAME_GUARD):
            continue
        verdicts = [enforcer.enforce(s, target, kind) for s in (sender, "agent")]
        explicit_deny = any(not ok and explain[-1:] == ["deny"] for ok, explain in verdicts)
        casbin_allowed = any(ok for ok, _ in verdicts) and not explicit_deny
        assert decision.allowed == casbin_allowed, (sender, target, kind)
        checked += 1
    assert checked > 200


def test_load_reports_the_version_of_the_bytes(policies: Path) -> None:
    first = load_policy_set(policies)
    (policies / "policy.csv").write_text(
        (policies / "policy.csv").read_text() + "# a comment changes the version\n"
    )
    second = load_policy_set(policies)
    assert len(first.version) == 64 and first.version != second.version
    assert second.files["policy.csv"].endswith(b"# a comment changes the version\n")
