"""circuits.yaml: optional, part of the policy version, validated with file:line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mas_gateway.cli import main
from mas_gateway.policy import PolicyError, load_policy_set
from mas_gateway.policy.circuits import FailureRatio

from ..stages import REPO_POLICIES

GOOD = """\
default:
  consecutive_failures: 5
  open_s: 30
roles:
  clinician:
    failure_ratio: {ratio: 0.5, interval_s: 60, min_calls: 10}
    half_open_probes: 3
targets:
  external-analytics:
    require_live: true
    max_backlog: 1000
  specialist: null
"""


def policies(tmp_path: Path, circuits: str | None) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, target)
    if circuits is not None:
        (target / "circuits.yaml").write_text(circuits, encoding="utf-8")
    return target


def test_without_the_file_no_target_has_a_circuit(tmp_path: Path) -> None:
    policy = load_policy_set(policies(tmp_path, None))
    assert policy.circuits.empty
    assert policy.circuit_for("doctor") is None


def test_the_most_specific_entry_applies(tmp_path: Path) -> None:
    policy = load_policy_set(policies(tmp_path, GOOD))
    analytics = policy.circuit_for("external-analytics")
    assert analytics is not None and analytics.require_live and analytics.max_backlog == 1000
    doctor = policy.circuit_for("doctor")  # a clinician in roles.csv
    assert doctor is not None
    assert doctor.failure_ratio == FailureRatio(0.5, 60.0, 10)
    assert doctor.half_open_probes == 3 and doctor.consecutive_failures is None
    assert policy.circuit_for("specialist") is None  # null: no circuit
    patient = policy.circuit_for("patient")
    assert patient is not None and patient.consecutive_failures == 5
    assert patient.source.startswith("circuits.yaml:1 (default)")


def test_the_file_is_part_of_the_policy_version(tmp_path: Path) -> None:
    without = load_policy_set(policies(tmp_path / "a", None)).version
    with_file = load_policy_set(policies(tmp_path / "b", GOOD)).version
    assert without != with_file


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("default:\n  consecutive_failures: 0\n", 2, "'consecutive_failures' must be an integer"),
        ("default:\n  open_s: -1\n  require_live: true\n", 2, "'open_s' must be seconds > 0"),
        ("default:\n  require_live: yes please\n", 2, "'require_live' must be true or false"),
        ("default:\n  opens: 3\n  require_live: true\n", 2, "unknown key 'opens'"),
        ("default:\n  open_s: 3\n", 1, "no trip condition"),
        (
            "targets:\n  a:\n    failure_ratio: {ratio: 2, interval_s: 1}\n",
            3,
            "'ratio' must be a number in (0, 1]",
        ),
        ("roles:\n  'bad id!':\n    require_live: true\n", 2, "not a valid role name"),
        ("circuits:\n  a: 1\n", 1, "unknown key 'circuits'"),
        ("default: [1, 2]\n", 1, "expected a mapping of circuit settings"),
        ("default:\n  require_live: true\n  require_live: false\n", 3, "repeats line 2"),
    ],
)
def test_problems_name_their_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_set(policies(tmp_path, text))
    issues = [i for i in raised.value.issues if i.file.endswith("circuits.yaml")]
    assert issues, raised.value.issues
    assert any(i.line == line and message in i.message for i in issues), issues


def test_policy_check_validates_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = policies(tmp_path / "good", GOOD)
    assert main(["policy", "check", "--policies", str(good)]) == 0
    assert "4 circuit entries" in capsys.readouterr().out
    bad = policies(tmp_path / "bad", "default:\n  half_open_probes: many\n  require_live: true\n")
    assert main(["policy", "check", "--policies", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "circuits.yaml:2: default: 'half_open_probes' must be an integer >= 1" in err


def test_a_broken_file_is_refused_on_reload_and_the_old_version_stays(tmp_path: Path) -> None:
    from mas_gateway.policy import PolicyStore

    folder = policies(tmp_path, GOOD)
    store = PolicyStore.load(folder)
    old = store.version
    (folder / "circuits.yaml").write_text("default:\n  open_s: 3\n", encoding="utf-8")
    result = store.reload()
    assert result.status == "refused" and "no trip condition" in (result.error or "")
    assert store.version == old
