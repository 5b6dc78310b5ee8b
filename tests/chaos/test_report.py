"""The verdict of a scenario and its table, from figures alone (no processes)."""

from __future__ import annotations

from pathlib import Path

from mas_gateway.benchmarks.chaos.journal import Journal, read_journal
from mas_gateway.benchmarks.chaos.report import table
from mas_gateway.benchmarks.chaos.runner import ScenarioResult


def _result(**overrides: object) -> ScenarioResult:
    values: dict[str, object] = {
        "scenario": "gateway-kill",
        "summary": "SIGKILL of a gateway mid-batch",
        "messages": 10,
        "rate": 5.0,
        "sent": 10,
        "send_failed": 0,
        "delivered": 10,
        "forwarded_twice": 0,
        "handled": 10,
        "handled_unacknowledged": 0,
        "lost": 0,
        "duplicates": 1,
        "duplicates_outside_window": 0,
        "dead_lettered": 0,
        "stranded": 2,
        "fault_s": 0.1,
        "recovery_s": 0.2,
        "caught_up_s": 2.0,
        "back_to_work": {"gw1": True, "sender": True},
        "restarts": [],
    }
    values.update(overrides)
    return ScenarioResult(**values)  # type: ignore[arg-type]


def test_a_duplicate_in_the_window_passes_anything_else_fails() -> None:
    assert _result().passed
    assert _result(lost=1).problems == ["1 acknowledged message(s) never handled"]
    assert not _result(duplicates_outside_window=1).passed
    assert _result(back_to_work={"gw1": False}).problems == ["not back to work: gw1"]
    crashed = _result(restarts=["gw1 exited on its own with code 1; restarted by the harness"])
    assert not crashed.passed


def test_table_has_one_row_per_scenario_and_names_the_problems() -> None:
    text = table([_result(), _result(scenario="redis-stall", lost=3)])
    rows = [
        line for line in text.splitlines() if line.startswith(("gateway-kill ", "redis-stall "))
    ]
    assert len(rows) == 2 and rows[0].endswith("pass") and rows[1].endswith("FAIL")
    assert "PROBLEM: 3 acknowledged message(s) never handled" in text


def test_journal_ignores_a_line_torn_by_a_kill(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.write({"event": "handled", "seq": 1})
    journal.close()
    with path.open("ab") as torn:
        torn.write(b'{"event": "hand')
    assert list(read_journal(path)) == [{"event": "handled", "seq": 1}]
