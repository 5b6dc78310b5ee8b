"""Run the policy test cases against a `PolicySet` like `opa test`: pass, or say why not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .cases import PolicyTestCase
from .decision import Decision
from .policyset import PolicySet

__all__ = [
    "CaseResult",
    "Difference",
    "DlpCheck",
    "PolicyTestReport",
    "run_case",
    "run_policy_tests",
]

DlpCheck = Callable[[PolicySet, PolicyTestCase], str]
"""Returns the DLP action (block, redact, alert, allow) for a case's payload on its route."""


@dataclass(frozen=True)
class Difference:
    """One expectation that did not hold."""

    field: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case: the decision seen and, on failure, expected vs actual lines."""

    case: PolicyTestCase
    decision: Decision
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    dlp_action: str | None = None

    @property
    def passed(self) -> bool:
        """No difference between expectation and outcome."""
        return not self.differences


@dataclass(frozen=True)
class PolicyTestReport:
    """Every case's result, in file order."""

    results: tuple[CaseResult, ...]

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        """The cases that did not pass."""
        return tuple(result for result in self.results if not result.passed)

    @property
    def ok(self) -> bool:
        """True when every case passed."""
        return not self.failures


def _describe(decision: Decision) -> str:
    return f"{decision.effect} ({decision.rule})"


def run_case(policy: PolicySet, case: PolicyTestCase, dlp: DlpCheck | None = None) -> CaseResult:
    """Decide one case and compare it with its expectation."""
    decision = policy.decide(case.sender, case.target, case.message_type, case.roles)
    differences: list[Difference] = []
    notes: list[str] = []
    if decision.effect != case.expect:
        differences.append(Difference("decision", case.expect, _describe(decision)))
    dlp_action: str | None = None
    if case.dlp_action is not None:
        if dlp is None:
            notes.append("dlp_action not checked: no DLP engine is configured")
        elif not decision.allowed:
            notes.append("dlp_action not checked: the message is denied before DLP runs")
        else:
            dlp_action = dlp(policy, case)
            if dlp_action != case.dlp_action:
                differences.append(Difference("dlp_action", case.dlp_action, dlp_action))
    return CaseResult(case, decision, tuple(differences), tuple(notes), dlp_action)


def run_policy_tests(policy: PolicySet, dlp: DlpCheck | None = None) -> PolicyTestReport:
    """Run every case of `policy.test_cases`."""
    return PolicyTestReport(tuple(run_case(policy, case, dlp) for case in policy.test_cases))
