"""dlp.yaml: validation with file and line, actions, thresholds, routes and operators."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mas.errors import ConfigError
from mas_gateway.dlp import DLPEngine, load_policy

from .helpers import POLICIES

RECORD = {
    "patient": {"name": "Chloe Garcia", "mrn": "00203592", "dob": "03/31/1946"},
    "note": "Diagnosis E11.9, call 415-892-7345",
}

POLICY = """
defaults: {action: block, threshold: 0.5}
groups:
  PHI: [MEDICAL_RECORD_NUMBER, DATE_OF_BIRTH, ICD10_CODE]
entities:
  PERSON: {action: redact, threshold: 0.6}
  PHONE_NUMBER: {action: alert}
  MEDICAL_RECORD_NUMBER: {action: redact}
  DATE_OF_BIRTH: {action: redact, operator: {type: mask, masking_char: "#", chars_to_mask: 6}}
  ICD10_CODE: {action: redact, operator: hash}
  US_SSN: {action: block}
routes:
  - name: external
    from: "*"
    to: [analytics]
    default: block
  - name: care team
    from: [patient]
    to: [clinicians]
    actions: {PHI: allow, PERSON: allow, PHONE_NUMBER: allow}
  - name: records desk
    from: [clerk]
    to: [records]
    actions:
      PHI: {action: alert}
      MEDICAL_RECORD_NUMBER: {action: block}
      PERSON: {threshold: 0.99}
"""


@pytest.fixture
def routed(policy_file: Callable[[str], Path]) -> DLPEngine:
    return DLPEngine.from_file(policy_file(POLICY))


def test_global_rules_redact_and_alert(routed: DLPEngine) -> None:
    result = routed.evaluate(RECORD, ("agent",), ("others",))
    assert result.action == "redact"
    assert result.route is None
    actions = {(f.entity_type, f.path): f.action for f in result.findings}
    assert actions == {
        ("PERSON", "$.patient.name"): "redact",
        ("MEDICAL_RECORD_NUMBER", "$.patient.mrn"): "redact",
        ("DATE_OF_BIRTH", "$.patient.dob"): "redact",
        ("ICD10_CODE", "$.note"): "redact",
        ("PHONE_NUMBER", "$.note"): "alert",
    }
    data = result.redacted_payload
    assert data is not None
    assert data["patient"]["name"] == "<PERSON>"
    assert data["patient"]["mrn"] == "<MEDICAL_RECORD_NUMBER>"
    assert data["patient"]["dob"] == "######1946"
    assert re.fullmatch(r"Diagnosis [0-9a-f]{64}, call 415-892-7345", data["note"])
    assert set(result.redacted_paths) == {
        "$.patient.name",
        "$.patient.mrn",
        "$.patient.dob",
        "$.note",
    }
    assert RECORD["patient"]["name"] == "Chloe Garcia"


def test_route_allows_phi_to_clinicians(routed: DLPEngine) -> None:
    result = routed.evaluate(RECORD, ("patient", "agent"), ("clinicians", "doctors"))
    assert result.route == "care team"
    assert result.action == "allow"
    assert result.findings == ()
    assert result.redacted_payload is None


def test_route_blocks_everything_to_external(routed: DLPEngine) -> None:
    result = routed.evaluate(RECORD, ("patient",), ("analytics",))
    assert result.route == "external"
    assert result.action == "block"
    assert {f.action for f in result.findings} == {"block"}
    reason = result.reason()
    assert "MEDICAL_RECORD_NUMBER at $.patient.mrn" in reason
    for value in ("Chloe", "00203592", "1946", "E11.9", "892-7345"):
        assert value not in reason


def test_entity_override_beats_group_and_threshold_override(routed: DLPEngine) -> None:
    result = routed.evaluate(RECORD, ("clerk",), ("records",))
    actions = {f.entity_type: f.action for f in result.findings}
    assert actions["MEDICAL_RECORD_NUMBER"] == "block"
    assert actions["DATE_OF_BIRTH"] == "alert"
    assert "PERSON" not in actions  # threshold raised above the score
    assert result.action == "block"


def test_alert_only_delivers_unchanged(routed: DLPEngine) -> None:
    result = routed.evaluate({"text": "call me at 415-892-7345"})
    assert result.action == "alert"
    assert result.redacted_payload is None
    assert [f.entity_type for f in result.findings] == ["PHONE_NUMBER"]


def test_allow_list_and_deny_list(policy_file: Callable[[str], Path]) -> None:
    engine = DLPEngine.from_file(
        policy_file(
            "entities:\n"
            "  EMAIL_ADDRESS: {action: redact, allow_list: [help@clinic.example.org]}\n"
            "  API_TOKEN: {action: block, deny_list: [project-bluebird]}\n"
        )
    )
    assert engine.evaluate({"t": "write help@clinic.example.org"}).action == "allow"
    assert engine.evaluate({"t": "write ann@clinic.example.org"}).action == "redact"
    assert engine.evaluate({"t": "codename project-bluebird"}).action == "block"


def test_oversized_payload_is_blocked(policy_file: Callable[[str], Path]) -> None:
    file = policy_file("entities:\n  US_SSN: {}\n")
    text = file.read_text(encoding="utf-8").replace(
        "engine:\n", "engine:\n  limits: {max_chars: 20}\n"
    )
    file.write_text(text, encoding="utf-8")
    engine = DLPEngine.from_file(file)
    assert engine.evaluate({"a": "short"}).action == "allow"
    result = engine.evaluate({"a": "x" * 50})
    assert result.action == "block"
    assert "more than 20 characters" in result.reason()


def test_repository_policy_loads() -> None:
    policy = load_policy(POLICIES / "dlp.yaml")
    assert {"PERSON", "US_SSN", "CREDIT_CARD", "JWT"} <= policy.scope
    assert next(r.name for r in policy.routes) == "to external agents"


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("entities:\n  US_SSN: {action: shred}\n", 7, "action must be one of"),
        ("entities:\n  US_SSN: {threshold: 2}\n", 7, "between 0"),
        ("entities:\n  us_ssn: {}\n", 7, "UPPER_SNAKE_CASE"),
        ("entities:\n  US_SSN: {}\n  PERSON: {colour: red}\n", 8, "unknown key 'colour'"),
        (
            "entities:\n  US_SSN: {}\nroutes:\n  - from: [a]\n    to: [b]\n"
            "    actions: {PHI: allow}\n",
            11,
            "neither an entity nor a group",
        ),
        ("entities:\n  US_SSN: {}\nroutes:\n  - from: [a]\n", 9, "needs 'from'"),
        ("entities:\n  US_SSN: {operator: {type: mask, masking_char: ab}}\n", 7, "one character"),
        ("entities:\n  US_SSN: {}\ngroups:\n  G: [NOPE]\n", 9, "unknown entity NOPE"),
        ("entities:\n  US_SSN: [\n", 0, "invalid YAML"),
        ("entities:\n  NO_SUCH_THING: {}\n", 0, "no recognizer for NO_SUCH_THING"),
        ("entities: {}\n", 6, "no entities"),
        ("entities:\n  US_SSN: {}\n  US_SSN: {action: allow}\n", 8, "repeats line 7"),
    ],
)
def test_bad_policy_names_file_and_line(
    policy_file: Callable[[str], Path], body: str, line: int, message: str
) -> None:
    file = policy_file(body)
    with pytest.raises(ConfigError) as info:
        DLPEngine.from_file(file)
    text = str(info.value)
    assert text.startswith(str(file))
    assert message in text
    if line:
        assert f"{file}:{line}:" in text


_SSN_HEAD = "  - name: x\n    supported_entity: US_SSN\n"


@pytest.mark.parametrize(
    ("recognizer", "message"),
    [
        (
            _SSN_HEAD + "    patterns:\n      - {name: p, regex: '([', score: 0.5}\n",
            "invalid regex",
        ),
        (
            _SSN_HEAD
            + "    validator: nope\n    patterns:\n      - {name: p, regex: a, score: 0.5}\n",
            "unknown validator",
        ),
        (_SSN_HEAD + "    patterns:\n      - {name: p, regex: 'a', score: 5}\n", "score must be"),
        ("  - name: NoSuchRecognizer\n    type: predefined\n", "no predefined recognizer"),
        ("  - name: x\n    supported_entity: US_SSN\n", "needs patterns or a deny_list"),
    ],
)
def test_bad_recognizer_file_names_file_and_line(
    tmp_path: Path, recognizer: str, message: str
) -> None:
    rec = tmp_path / "recognizers.yaml"
    rec.write_text("recognizers:\n" + recognizer, encoding="utf-8")
    policy = tmp_path / "dlp.yaml"
    policy.write_text(
        f"version: 1\nengine:\n  recognizers: [{rec.name}]\nentities:\n  US_SSN: {{}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=re.escape(f"{rec}:") + r"\d+: .*" + message):
        DLPEngine.from_file(policy)


def test_missing_spacy_model_is_a_config_error(policy_file: Callable[[str], Path]) -> None:
    file = policy_file("entities:\n  PERSON: {}\n").read_text(encoding="utf-8")
    path = Path(policy_file("entities:\n  PERSON: {}\n"))
    path.write_text(
        file.replace("engine:\n", "engine:\n  spacy_model: xx_no_such_pipeline\n"), encoding="utf-8"
    )
    engine = DLPEngine.from_file(path)
    with pytest.raises(ConfigError, match="xx_no_such_pipeline"):
        engine.warm_up()
