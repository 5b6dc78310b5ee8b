"""Evidence rules on the policy files, the policy history, the registry and the connection."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..policy import DEFAULT_DENY
from .rules_audit import Verdict

if TYPE_CHECKING:
    from .evidence import Evidence

__all__ = [
    "PROBE",
    "default_deny",
    "operator_provisioned",
    "policy_in_force_tested",
    "policy_tests_pass",
    "policy_valid",
    "rate_limits_enforced",
    "redis_tls",
    "senders_registered",
]

PROBE = ("compliance-probe-sender", "compliance-probe-target", "compliance.probe")
"""A request no policy line should mention: it must fall through to the default deny."""


def policy_valid(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """The policy files load and validate, as `mas policy check` does."""
    found = evidence.policy
    if found.policy is None:
        more = len(found.problems) - 1
        extra = f" (and {more} more)" if more > 0 else ""
        return "fail", f"the policy files are invalid: {found.problems[0]}{extra}"
    policy = found.policy
    return "pass", (
        f"policies/ validates: version {policy.version[:12]}, {len(policy.rules)} rules, "
        f"{len(policy.links)} role/group lines, {len(policy.test_cases)} test cases"
    )


def policy_tests_pass(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Every case in policies/tests passes, as `mas policy test` checks."""
    found = evidence.policy
    if found.policy is None:
        return "fail", "the policy files are invalid, so their tests cannot run"
    if found.test_error is not None:
        return "fail", f"the policy tests could not run: {found.test_error}"
    report = found.tests
    if report is None or not report.results:
        return "fail", "there are no policy test cases in policies/tests"
    total = len(report.results)
    if report.failures:
        first = report.failures[0]
        diff = "; ".join(str(d) for d in first.differences)
        return "fail", (
            f"{len(report.failures)} of {total} policy test cases fail; first: "
            f"{first.case.ref} {first.case.name}: {diff}"
        )
    notes = sum(len(result.notes) for result in report.results)
    extra = f" ({notes} notes, see the report's test list)" if notes else ""
    version = found.policy.version[:12]
    return "pass", f"{total}/{total} policy test cases pass on version {version}{extra}"


def policy_in_force_tested(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """The version most recently put in force by a gateway is the one the tests ran on."""
    if not evidence.history:
        return "manual", (
            "no gateway has recorded a policy version in mas.policy.versions: compare the "
            "deployed policies/ with the tested one by hand"
        )
    latest = max(evidence.history, key=lambda record: (record.time, record.stream_id))
    local = evidence.policy.version
    if local is None:
        return "fail", "the local policy files are invalid, so the version in force is untested"
    if latest.version != local:
        return "fail", (
            f"gateway {latest.gateway_id} put version {latest.version[:12]} in force last, but "
            f"the tests ran on {local[:12]}: run the report on the deployed policies/ (--policies)"
        )
    return "pass", (
        f"version {local[:12]}, put in force last by gateway {latest.gateway_id}, is the "
        "version whose tests ran"
    )


def default_deny(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """An agent, target and message type that no line names are denied."""
    policy = evidence.policy.policy
    if policy is None:
        return "fail", "the policy files are invalid, so no request can be decided"
    sender, target, message_type = PROBE
    decision = policy.decide(sender, target, message_type)
    if decision.allowed:
        return "fail", (
            f"an unknown agent may send {message_type} to an unknown target "
            f"(allowed by {decision.rule}): access is not denied by default"
        )
    how = "the default deny" if decision.rule == DEFAULT_DENY else f"rule {decision.rule}"
    return "pass", f"a request no policy line allows is denied ({how})"


def _senders_missing(evidence: Evidence) -> list[str]:
    return sorted(
        record.agent_id
        for record in evidence.senders.values()
        if not (record.exists and record.has_key and record.has_token)
    )


def senders_registered(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Each agent whose messages were delivered has a registry record with key and token hash."""
    if not evidence.senders:
        return "manual", "no message was delivered in the period"
    missing = _senders_missing(evidence)
    if missing:
        return "fail", (
            f"{len(missing)} agent(s) whose messages were delivered have no registry record "
            f"with a public key and a token hash: {', '.join(missing[:10])}"
        )
    revoked = sorted(r.agent_id for r in evidence.senders.values() if r.status == "REVOKED")
    extra = f" ({len(revoked)} revoked since: {', '.join(revoked[:10])})" if revoked else ""
    return "pass", (
        f"each of the {len(evidence.senders)} agents whose messages were delivered is "
        f"registered with an Ed25519 public key and a hashed token{extra}"
    )


def operator_provisioned(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Each sender's identity was vouched for by an operator, not auto-provisioned."""
    if not evidence.senders:
        return "manual", "no message was delivered in the period"
    selfmade = sorted(
        r.agent_id for r in evidence.senders.values() if r.provisioned_by != "operator"
    )
    if selfmade:
        return "manual", (
            f"{len(selfmade)} of {len(evidence.senders)} senders registered their own keys "
            f"(auto-provisioning, a development mode): {', '.join(selfmade[:10])}; a person "
            "must confirm who holds these identities, or provision them with mas agent provision"
        )
    return "pass", (
        f"all {len(evidence.senders)} senders were provisioned by an operator (mas agent provision)"
    )


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redis_tls(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """The Redis connection is TLS (rediss://); on loopback a person judges the deployment."""
    parts = urlsplit(evidence.redis_url)
    host = parts.hostname or ""
    if parts.scheme == "rediss":
        return "pass", (
            f"Redis at {host} is reached over TLS (rediss://); every gateway and agent must "
            "use the same URL scheme"
        )
    if parts.scheme == "unix" or _loopback(host):
        return "manual", (
            "Redis is reached without TLS on this host only; across hosts MAS relies on "
            "Redis TLS (rediss://), which is deployment configuration: check it there"
        )
    return "fail", (
        f"Redis at {host} is reached without TLS: messages cross the network signed "
        "but not encrypted; use rediss://"
    )


def rate_limits_enforced(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Rate limits are defined in policies/ratelimits.yaml; the period shows them applied."""
    policy = evidence.policy.policy
    if policy is None:
        return "fail", "the policy files are invalid, so no rate limit is in force"
    limits = policy.ratelimits
    limited = evidence.stats.by_decision.get("rate_limited", 0)
    return "pass", (
        f"default {limits.default.rate:g}/s (burst {limits.default.burst:g}) and "
        f"{len(limits.roles)} role limits in policies/ratelimits.yaml; {limited} messages "
        "rate limited in the period"
    )
