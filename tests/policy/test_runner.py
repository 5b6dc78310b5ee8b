"""The policy test runner: decisions and, when a DLP check is given, DLP actions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mas_gateway.cli import main
from mas_gateway.policy import (
    Difference,
    DlpCheck,
    PolicySet,
    PolicyStore,
    PolicyTestCase,
    load_policy_set,
    run_policy_tests,
)
from mas_gateway.policy.dlp_check import dlp_check_for

DLP_CASES = """\
cases:
  - name: a card number to the doctor is blocked
    from: patient
    to: doctor
    type: consultation.request
    payload: {note: "card 4111 1111 1111 1111"}
    expect: allow
    dlp_action: block
  - name: a denied message never reaches DLP
    from: patient
    to: specialist
    type: consultation.request
    payload: {note: "anything"}
    expect: deny
    dlp_action: allow
"""


@pytest.fixture
def dlp_policy(policies: Path) -> PolicySet:
    """The policy with only the cases above, and without DLP rules (no `dlp.yaml`)."""
    (policies / "dlp.yaml").unlink(missing_ok=True)
    shutil.rmtree(policies / "tests")
    (policies / "tests").mkdir()
    (policies / "tests" / "dlp_cases.yaml").write_text(DLP_CASES)
    return load_policy_set(policies)


def test_payload_is_kept_as_plain_data(dlp_policy: PolicySet) -> None:
    case = next(case for case in dlp_policy.test_cases if case.dlp_action == "block")
    assert case.payload == {"note": "card 4111 1111 1111 1111"}
    assert type(case.payload) is dict


def test_dlp_expectations_are_noted_without_an_engine(dlp_policy: PolicySet) -> None:
    assert dlp_check_for(dlp_policy) is None
    report = run_policy_tests(dlp_policy)
    assert report.ok
    notes = {r.case.name: r.notes for r in report.results if r.notes}
    assert notes == {
        "a card number to the doctor is blocked": (
            "dlp_action not checked: no DLP engine is configured",
        ),
        "a denied message never reaches DLP": (
            "dlp_action not checked: no DLP engine is configured",
        ),
    }


def test_dlp_action_is_compared(dlp_policy: PolicySet) -> None:
    asked: list[PolicyTestCase] = []

    def redacts(_policy: PolicySet, case: PolicyTestCase) -> str:
        asked.append(case)
        return "redact"

    report = run_policy_tests(dlp_policy, redacts)
    [failure] = report.failures
    assert failure.case.name == "a card number to the doctor is blocked"
    assert failure.differences == (Difference("dlp_action", "block", "redact"),)
    assert failure.dlp_action == "redact"
    # the denied case is not scanned: DLP runs after authorization
    assert [case.name for case in asked] == ["a card number to the doctor is blocked"]
    denied = next(r for r in report.results if r.case.expect == "deny" and r.case.dlp_action)
    assert denied.passed
    assert denied.notes == ("dlp_action not checked: the message is denied before DLP runs",)


def test_cli_reports_unchecked_dlp_expectations(
    dlp_policy: PolicySet, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["policy", "test", "--policies", str(dlp_policy.sources.root)])
    out = capsys.readouterr().out
    assert code == 0
    assert "NOTE dlp_action not checked: no DLP engine is configured" in out


def test_store_checks_dlp_expectations_of_each_candidate(dlp_policy: PolicySet) -> None:
    root = dlp_policy.sources.root
    built: list[str] = []

    def factory(candidate: PolicySet) -> DlpCheck:
        built.append(candidate.version)
        return lambda _policy, case: "block" if "card" in str(case.payload) else "allow"

    store = PolicyStore.load(root, dlp=factory)
    assert built == [store.version]
    cases = root / "tests" / "dlp_cases.yaml"
    cases.write_text(cases.read_text().replace("dlp_action: block", "dlp_action: redact"))
    result = store.reload()
    assert result.status == "refused"
    assert result.error is not None
    assert "dlp_action: expected redact, got block" in result.error
    assert len(built) == 2 and built[1] == result.candidate
