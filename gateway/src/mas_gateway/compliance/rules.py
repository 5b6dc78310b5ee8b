"""Evidence rules: each looks at the collected evidence and says pass, fail or manual, and why.

A control in ``compliance/controls.yaml`` lists rules by name; its status is ``fail``
when any rule fails, else ``manual`` when any rule needs a human, else ``pass``.
No rule passes without having looked at something: an empty log or a missing
input gives ``manual`` or ``fail``, never ``pass`` by default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .evidence import Evidence
from .rules_audit import (
    audit_minimal,
    audit_recorded,
    audit_verified,
    decisions_versioned,
    deliveries_signed,
    denials_attributed,
)
from .rules_dlp import dlp_active, dlp_configured, dlp_enforced, dlp_policy_protects
from .rules_policy import (
    default_deny,
    operator_provisioned,
    policy_in_force_tested,
    policy_tests_pass,
    policy_valid,
    rate_limits_enforced,
    redis_tls,
    senders_registered,
)

__all__ = ["RULES", "STATUSES", "RuleResult", "RuleSpec", "Status", "combine", "evaluate"]

Status = Literal["pass", "fail", "manual"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "manual")
Check = Callable[[Evidence, Mapping[str, Any]], tuple[Status, str]]


@dataclass(frozen=True)
class RuleSpec:
    """A named check with the parameters it takes (name -> "text" or "list")."""

    name: str
    summary: str
    check: Check
    params: Mapping[str, str]
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict on the evidence."""

    rule: str
    status: Status
    reason: str

    def to_json(self) -> dict[str, str]:
        """As a JSON object."""
        return {"rule": self.rule, "status": self.status, "reason": self.reason}


def manual(_evidence: Evidence, params: Mapping[str, Any]) -> tuple[Status, str]:
    """A part of the control only a person can judge; `reason` says what to look at."""
    return "manual", str(params["reason"])


def _spec(
    name: str,
    summary: str,
    check: Check,
    params: Mapping[str, str] | None = None,
    required: tuple[str, ...] = (),
) -> RuleSpec:
    return RuleSpec(name, summary, check, params or {}, required)


RULES: dict[str, RuleSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "audit_verified",
            "the audit log verifies (Merkle tree, signed checkpoints)",
            audit_verified,
        ),
        _spec(
            "audit_recorded",
            "decisions of the period are recorded in readable entries",
            audit_recorded,
        ),
        _spec(
            "audit_minimal",
            "audit entries hold only the audit fields, never payloads",
            audit_minimal,
        ),
        _spec(
            "denials_attributed",
            "every denied decision names its rule and policy version",
            denials_attributed,
        ),
        _spec(
            "decisions_versioned",
            "every policy decision names a policy version found in the version history",
            decisions_versioned,
        ),
        _spec(
            "deliveries_signed",
            "every decision was signed with a gateway key published in the key registry",
            deliveries_signed,
        ),
        _spec("policy_valid", "the policy files validate (mas policy check)", policy_valid),
        _spec(
            "policy_tests_pass",
            "every policy test case passes (mas policy test)",
            policy_tests_pass,
        ),
        _spec(
            "policy_in_force_tested",
            "the version last put in force is the version whose tests were run",
            policy_in_force_tested,
        ),
        _spec("default_deny", "a request no rule mentions is denied", default_deny),
        _spec(
            "senders_registered",
            "every sender of a delivered message is registered with a key and a token hash",
            senders_registered,
        ),
        _spec(
            "operator_provisioned",
            "every sender of a delivered message was provisioned by an operator",
            operator_provisioned,
        ),
        _spec("redis_tls", "Redis is reached over TLS", redis_tls),
        _spec("rate_limits_enforced", "rate limits are defined and applied", rate_limits_enforced),
        _spec("dlp_configured", "policies/dlp.yaml exists and validates", dlp_configured),
        _spec("dlp_active", "messages of the period went through the DLP scan", dlp_active),
        _spec(
            "dlp_enforced",
            "no message was delivered unmodified when DLP said block or redact",
            dlp_enforced,
        ),
        _spec(
            "dlp_policy_protects",
            "the DLP policy blocks or redacts the given entity types on every route",
            dlp_policy_protects,
            {"entities": "list", "actions": "list"},
            ("entities",),
        ),
        _spec("manual", "a part only a person can judge", manual, {"reason": "text"}, ("reason",)),
    )
}


def evaluate(name: str, evidence: Evidence, params: Mapping[str, Any]) -> RuleResult:
    """Run one rule; an unexpected error is a failure that names it (fail closed)."""
    spec = RULES[name]
    try:
        status, reason = spec.check(evidence, params)
    except Exception as exc:
        return RuleResult(name, "fail", f"the check could not run: {type(exc).__name__}: {exc}")
    return RuleResult(name, status, reason)


def combine(results: list[RuleResult]) -> Status:
    """fail if any rule failed, else manual if any needs a human, else pass (none: manual)."""
    statuses = {result.status for result in results}
    if "fail" in statuses:
        return "fail"
    if "manual" in statuses or not results:
        return "manual"
    return "pass"
