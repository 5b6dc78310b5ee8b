"""`mas policy check | test | explain | reload` exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mas_gateway.cli import main

from .conftest import REPO_POLICIES, line_of, replace_line


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "check", "--policies", str(REPO_POLICIES))
    assert code == 0
    assert out.startswith(f"ok: {REPO_POLICIES} is valid (version ")


def test_check_reports_file_and_line(policies: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = "p, student, professors, question.ask, allow"
    line = line_of(policies / "policy.csv", old)
    replace_line(policies / "policy.csv", old, "p, student, professors")
    code, out, err = run(capsys, "policy", "check", "--policies", str(policies))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{policies}/policy.csv:{line}: expected 'p, subject, target, message_type, effect', "
        "got 2 values",
        "1 problem: the policy is invalid",
    ]


def test_missing_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "policy", "check", "--policies", str(tmp_path / "none"))
    assert code == 2
    assert err == f"mas: policies directory {tmp_path / 'none'} not found\n"


def test_unknown_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["policy", "explain", "--from", "a"])
    assert caught.value.code == 2


def test_test_passes_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "test", "--policies", str(REPO_POLICIES))
    assert code == 0
    assert out.splitlines()[-1].startswith("PASS: ")
    passed, total = out.splitlines()[-1].removeprefix("PASS: ").split("/")
    assert passed == total and int(total) >= 20
    assert "FAIL" not in out
    # with DLP rules in the repository, the cases' dlp_action expectations are really checked
    has_dlp_rules = (REPO_POLICIES / "dlp.yaml").is_file()
    assert ("dlp_action not checked: no DLP engine" in out) is not has_dlp_rules


def test_a_wrong_case_fails_with_a_readable_diff(
    policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = policies / "tests" / "healthcare.yaml"
    text = cases.read_text()
    wrong = text.replace(
        "    type: consultation.request\n    expect: deny\n",
        "    type: consultation.request\n    expect: allow\n",
        1,
    )
    assert wrong != text
    cases.write_text(wrong)
    name = "a patient cannot go to the specialist directly"
    case_line = line_of(cases, f"  - name: {name}")
    deny_line = line_of(policies / "policy.csv", "p, patient, specialists, consultation.*, deny")
    code, out, _ = run(capsys, "policy", "test", "--policies", str(policies))
    assert code == 1
    lines = out.splitlines()
    title = f"{cases}:{case_line}: {name}"
    assert lines[:3] == ["FAILURES", "-" * 80, title]
    assert "    request:  patient -> specialist consultation.request" in lines
    assert "  - expected decision: allow" in lines
    assert f"  + actual   decision: deny (policy.csv:{deny_line})" in lines
    assert f"{title}: FAIL" in lines
    assert lines[-2:] == [f"PASS: {int(lines[-1].split('/')[-1]) - 1}/{lines[-1].split('/')[-1]}",
                          lines[-1]]  # fmt: skip
    assert lines[-1].startswith("FAIL: 1/")


def test_test_with_invalid_files_fails(policies: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (policies / "model.conf").write_text("[matchers]\nm = \n")
    code, _, err = run(capsys, "policy", "test", "--policies", str(policies))
    assert code == 1
    assert f"{policies}/model.conf" in err


def test_explain_shows_decision_rules_and_role_chain(capsys: pytest.CaptureFixture[str]) -> None:
    policy_csv = REPO_POLICIES / "policy.csv"
    deny = line_of(policy_csv, "p, external, *, analytics.patient_*, deny")
    allow = line_of(policy_csv, "p, external, clinicians, analytics.*, allow")
    role = line_of(REPO_POLICIES / "roles.csv", "g, external-analytics, external")
    code, out, _ = run(
        capsys,
        "policy", "explain", "--policies", str(REPO_POLICIES),
        "--from", "external-analytics", "--to", "doctor", "--type", "analytics.patient_records",
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert "decision:       DENY" in lines
    assert f"decided by:     policy.csv:{deny}  p, external, *, analytics.patient_*, deny" in lines
    assert f"role chain:     external-analytics -> external (roles.csv:{role})" in lines
    assert "target groups:  clinicians, doctors" in lines
    matched = [line for line in lines if line.startswith("  ") and "policy.csv:" in line]
    assert matched[0].startswith(f"    allow        policy.csv:{allow} ")
    assert matched[1].startswith(f"  * deny         policy.csv:{deny} ")
    assert any(line.startswith("shadow:") for line in lines)


def test_explain_json_with_registry_roles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "policy", "explain", "--policies", str(REPO_POLICIES), "--json",
        "--from", "locum", "--role", "specialist", "--to", "external-analytics",
        "--type", "analytics.summary",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert document["decision"] == "allow"
    assert document["rule"] == document["deciding"][0]
    assert [step["name"] for step in document["role_chain"]] == ["locum", "specialist", "clinician"]
    assert document["role_chain"][1]["via"] == "registry"
    assert document["request"]["registry_roles"] == ["specialist"]
    assert document["rate_limit"]["rate"] == 100


def test_explain_default_deny(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "policy", "explain", "--policies", str(REPO_POLICIES),
        "--from", "patient", "--to", "doctor", "--type", "consultation.response",
    )  # fmt: skip
    assert code == 0
    assert "decided by:     default-deny" in out
    assert "(none: nothing allows it, so the default deny applies)" in out


def test_reload_without_listeners_exits_1(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "policy", "reload", "--redis-url", redis_url, "--policies", str(REPO_POLICIES)
    )
    assert code == 1
    assert "no gateway process is listening on mas.policy.reload" in err


def test_reload_refuses_to_publish_a_broken_policy(
    policies: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (policies / "roles.csv").write_text("g, a\n")
    code, out, err = run(
        capsys, "policy", "reload", "--redis-url", redis_url, "--policies", str(policies)
    )
    assert code == 1 and out == ""
    assert f"{policies}/roles.csv:1:" in err
    assert "not publishing" in err


def test_reload_with_unreachable_redis_hides_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "redis://user:hunter2@127.0.0.1:1/0"
    code, _, err = run(capsys, "policy", "reload", "--redis-url", url, "--no-verify")
    assert code == 2
    assert "hunter2" not in err and "user:***@127.0.0.1:1" in err


def test_explain_refuses_impossible_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "policy", "explain", "--policies", str(REPO_POLICIES),
        "--from", "pat ient", "--to", "doctor", "--type", "consultation.request",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err == "mas: --from 'pat ient' is not an agent id\n"
