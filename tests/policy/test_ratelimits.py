"""Rate limits per role from ratelimits.yaml: the most generous role wins, roles inherit."""

from __future__ import annotations

from pathlib import Path

from mas_gateway.policy import RateLimit, load_policy_set

from .conftest import REPO_POLICIES


def test_repository_limits() -> None:
    policy = load_policy_set(REPO_POLICIES)
    patient = policy.rate_limit_for(policy.roles_of("patient"))
    assert (patient.rate, patient.burst) == (1.0, 5.0)
    assert patient.source.startswith("ratelimits.yaml:") and patient.source.endswith("(patient)")
    default = policy.rate_limit_for(policy.roles_of("stranger"))
    assert (default.rate, default.burst) == (50.0, 100.0)
    assert default.source.endswith("(default)")


def test_roles_inherit_and_the_most_generous_wins(policies: Path) -> None:
    (policies / "ratelimits.yaml").write_text(
        "default: {rate: 10, burst: 10}\n"
        "roles:\n"
        "  patient: {rate: 1, burst: 5}\n"
        "  clinician: {rate: 100, burst: 150}\n"
        "  external: {rate: 100, burst: 300}\n"
    )
    policy = load_policy_set(policies)
    # doctor has no limit of its own: it inherits the clinician limit
    assert _pair(policy.rate_limit_for(["doctor"])) == (100.0, 150.0)
    assert _pair(policy.rate_limit_for(policy.roles_of("doctor"))) == (100.0, 150.0)
    # several roles: highest rate, then highest burst
    both = policy.rate_limit_for(["patient", "doctor", "external"])
    assert (both.rate, both.burst) == (100.0, 300.0)
    assert _pair(policy.rate_limit_for(["patient", "agent"])) == (1.0, 5.0)
    assert _pair(policy.rate_limit_for([])) == (10.0, 10.0)


def _pair(limit: RateLimit) -> tuple[float, float]:
    return (limit.rate, limit.burst)
