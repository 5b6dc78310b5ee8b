"""compliance/controls.yaml: every required control, valid rules, commands the CLI accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mas_gateway.cli import build_parser, main
from mas_gateway.compliance import (
    RULES,
    ControlsError,
    command_problems,
    load_controls,
    parse_controls,
)

from .helpers import CONTROLS_FILE, REPO

REQUIRED = {
    "HIPAA 164.312(a)(1)": "HIPAA",
    "HIPAA 164.312(b)": "HIPAA",
    "HIPAA 164.312(c)(1)": "HIPAA",
    "HIPAA 164.312(d)": "HIPAA",
    "HIPAA 164.312(e)(1)": "HIPAA",
    "SOC 2 CC6.1": "SOC 2",
    "SOC 2 CC6.6": "SOC 2",
    "SOC 2 CC7.2": "SOC 2",
    "GDPR Art. 5(1)(f)": "GDPR",
    "GDPR Art. 30": "GDPR",
    "GDPR Art. 32": "GDPR",
    "PCI DSS 3": "PCI DSS",
    "PCI DSS 7": "PCI DSS",
    "PCI DSS 10": "PCI DSS",
}


def test_every_required_control_is_mapped() -> None:
    controls = load_controls(CONTROLS_FILE)
    found = {control.id: control.framework for control in controls.controls}
    assert found == REQUIRED


def test_every_evidence_command_is_accepted_by_the_mas_cli() -> None:
    controls = load_controls(CONTROLS_FILE)
    commands = {command for control in controls.controls for command in control.commands}
    assert {"mas audit verify", "mas policy test", "mas policy check"} <= commands
    assert any(command.startswith("mas dlp scan") for command in commands)
    assert command_problems(controls, build_parser()) == []


def test_every_control_has_an_automatic_rule_and_states_its_gaps() -> None:
    for control in load_controls(CONTROLS_FILE).controls:
        assert all(rule.name in RULES for rule in control.rules)
        automatic = [rule for rule in control.rules if rule.name != "manual"]
        assert automatic, f"{control.id} is evaluated by no automatic rule"
        if control.coverage == "partial":
            assert len(control.gaps) > 40, control.id


def test_mas_compliance_check_accepts_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compliance", "check", "--controls", str(CONTROLS_FILE)]) == 0
    assert "ok: 14 controls (GDPR, HIPAA, PCI DSS, SOC 2)" in capsys.readouterr().out


VALID = """\
frameworks:
  HIPAA: HIPAA Security Rule
controls:
  - id: HIPAA 164.312(b)
    framework: HIPAA
    title: Audit controls
    requirement: Record activity.
    mas: The gateway appends every decision to the audit log.
    coverage: full
    features: [audit log]
    evidence:
      commands: [mas policy check]
      rules:
        - audit_verified
        - rule: dlp_policy_protects
          entities: [CREDIT_CARD]
"""


def test_a_minimal_file_parses() -> None:
    [control] = parse_controls(VALID).controls
    assert control.line == 4
    assert [rule.name for rule in control.rules] == ["audit_verified", "dlp_policy_protects"]
    assert dict(control.rules[1].params) == {"entities": ["CREDIT_CARD"]}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "framework: HIPAA\n",
            "framework: ISO\n",
            "controls.yaml:4: control 'HIPAA 164.312(b)': framework 'ISO' is not listed",
        ),
        ("- audit_verified", "- audit_verifed", "unknown rule 'audit_verifed'"),
        (
            "entities: [CREDIT_CARD]",
            "entity: [CREDIT_CARD]",
            "rule dlp_policy_protects takes no parameter 'entity'",
        ),
        ("    coverage: full\n", "    coverage: partial\n", "'gaps' must be non-empty text"),
        ("    title: Audit controls\n", "", "'title' must be non-empty text"),
        ("commands: [mas policy check]", "commands: []", "'commands' must be a non-empty list"),
        (
            "    features: [audit log]\n",
            "    features: [audit log]\n    owner: me\n",
            "unknown key 'owner'",
        ),
        ("frameworks:", "frameworks: [\n", "controls.yaml:"),
    ],
)
def test_invalid_files_name_the_line_and_the_problem(old: str, new: str, problem: str) -> None:
    assert old in VALID
    with pytest.raises(ControlsError) as caught:
        parse_controls(VALID.replace(old, new, 1))
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_a_duplicate_control_is_refused() -> None:
    doubled = VALID + VALID[VALID.index("  - id:") :]
    with pytest.raises(
        ControlsError, match=r"controls.yaml:17: control 'HIPAA 164.312\(b\)': listed twice"
    ):
        parse_controls(doubled)


def test_a_command_the_cli_does_not_know_is_reported(tmp_path: Path) -> None:
    controls = parse_controls(
        VALID.replace("[mas policy check]", "[mas policy check --strict, mas audti verify, ls]")
    )
    problems = command_problems(controls, build_parser())
    assert len(problems) == 3
    assert "'mas policy check --strict' is not accepted by the mas CLI" in problems[0]
    assert "unrecognized arguments: --strict" in problems[0]
    assert "invalid choice: 'audti'" in problems[1]
    assert "'ls' is not a mas command" in problems[2]
    bad = tmp_path / "controls.yaml"
    bad.write_text(VALID.replace("[mas policy check]", "[mas audti verify]"), encoding="utf-8")
    assert main(["compliance", "check", "--controls", str(bad)]) == 1


def test_the_readme_documents_every_rule_and_control() -> None:
    readme = (REPO / "compliance" / "README.md").read_text(encoding="utf-8")
    for name in RULES:
        assert f"| `{name}` |" in readme, f"compliance/README.md does not document rule {name}"
    for control_id in REQUIRED:
        assert control_id.split(" ", 1)[1].split("(")[0] in readme, control_id
