"""``mas dlp scan``: JSON and JSONL in, one JSON line per payload out, values only on request."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mas_gateway.cli import main

from .helpers import POLICIES

RECORD = {"patient": {"name": "Chloe Garcia", "mrn": "00203592"}, "ssn": "536-22-1234"}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["dlp", "scan", "--policies", str(POLICIES), *args])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_scan_file_prints_findings_without_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "p.json"
    file.write_text(json.dumps(RECORD), encoding="utf-8")
    code, rows = _run(capsys, str(file))
    assert code == 0
    assert rows[0]["action"] == "block"
    findings = rows[0]["findings"]
    assert isinstance(findings, list)
    assert {k: v for k, v in findings[-1].items() if k != "score"} == {
        "type": "US_SSN",
        "path": "$.ssn",
        "start": 0,
        "end": 11,
    }
    text = json.dumps(rows)
    for value in ("Chloe", "00203592", "536-22-1234"):
        assert value not in text


def test_show_values_and_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "p.jsonl"
    file.write_text(
        json.dumps(RECORD["patient"]) + "\n\n" + json.dumps({"x": 1}) + "\n", encoding="utf-8"
    )
    code, rows = _run(capsys, "--jsonl", "--show-values", str(file))
    assert code == 0
    assert len(rows) == 2
    values = {f["type"]: f["value"] for f in rows[0]["findings"]}  # type: ignore[union-attr]
    assert values == {"PERSON": "Chloe Garcia", "MEDICAL_RECORD_NUMBER": "00203592"}
    assert rows[0]["redacted_paths"] == ["$.name", "$.mrn"]
    assert rows[1] == {"action": "allow", "findings": []}

    code, rows = _run(capsys, "--jsonl", "--from", "patient", "--to", "doctors", str(file))
    assert rows[0]["action"] == "allow"
    assert rows[0]["route"] == "patient to clinician"


def test_stdin_and_bad_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"a": "ssn 536-22-1234"}\n{oops\n'))
    code = main(["dlp", "scan", "--policies", str(POLICIES), "--jsonl", "-"])
    captured = capsys.readouterr()
    assert code == 2
    assert json.loads(captured.out.splitlines()[0])["action"] == "block"
    assert "stdin:2: not valid JSON" in captured.err


def test_unreadable_file_and_bad_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlp", "scan", "--policies", str(POLICIES), str(tmp_path / "none.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "dlp.yaml").write_text(
        "version: 1\nentities:\n  X: {action: nope}\n", encoding="utf-8"
    )
    assert main(["dlp", "scan", "--policies", str(tmp_path), str(tmp_path / "dlp.yaml")]) == 2
    assert "no recognizer file or folder recognizers" in capsys.readouterr().err
    (tmp_path / "recognizers").mkdir()
    assert main(["dlp", "scan", "--policies", str(tmp_path), str(tmp_path / "dlp.yaml")]) == 2
    assert "dlp.yaml:3: action must be one of" in capsys.readouterr().err


def test_evaluate_scores_a_labelled_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"payload": {"text": "ssn 536-22-1234"}, "expect": "sensitive", "category": "pii",
         "entities": [{"type": "US_SSN", "value": "536-22-1234"}]},
        {"payload": {"text": "see you at noon"}, "expect": "clean", "category": "clean",
         "entities": []},
        {"payload": {"text": "the tag is blue"}, "expect": "sensitive", "category": "pii",
         "entities": [{"type": "US_SSN", "value": "blue"}]},
    ]  # fmt: skip
    file = tmp_path / "c.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code = main(
        ["dlp", "evaluate", str(file), "--policies", str(POLICIES), "--no-presidio", "--json"]
    )
    assert code == 0
    mas = json.loads(capsys.readouterr().out)["mas"]
    assert mas["message_recall"] == 0.5
    assert (mas["message_precision"], mas["clean_flagged"]) == (1.0, 0.0)
    assert mas["types"] == {"US_SSN": {"n": 2, "recall": 0.5}}
    file.write_text('{"payload": {}}\n', encoding="utf-8")
    assert main(["dlp", "evaluate", str(file)]) == 2
    assert "not a labelled case" in capsys.readouterr().err
