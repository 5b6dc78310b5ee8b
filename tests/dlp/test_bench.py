"""``mas bench dlp`` runs both scenarios and reports rates (timings are not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mas_gateway.benchmarks.dlp import pattern_only_policy
from mas_gateway.benchmarks.dlp_traffic import clean_messages, mixed_messages
from mas_gateway.cli import main
from mas_gateway.dlp import DLPEngine, load_policy

from .helpers import POLICIES


def test_traffic_is_distinct_and_mixed(engine: DLPEngine) -> None:
    mixed = mixed_messages(200, seed=1)
    assert len({json.dumps(m) for m in mixed}) == 200
    flagged = sum(engine.evaluate(m).action != "allow" for m in mixed)
    assert 30 <= flagged <= 100
    assert all(engine.evaluate(m).action == "allow" for m in clean_messages(100, seed=2))


def test_pattern_only_policy_drops_ner_entities(engine: DLPEngine, tmp_path: Path) -> None:
    policy = load_policy(pattern_only_policy(engine, tmp_path))
    assert "PERSON" not in policy.scope
    assert policy.scope == engine.policy.scope - {"PERSON"}
    assert [r.name for r in policy.routes] == [r.name for r in engine.policy.routes]
    assert DLPEngine(policy).ner_entities == frozenset()


@pytest.mark.slow
def test_mas_bench_dlp_prints_both_rates(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["bench", "dlp", "--messages", "12", "--workers", "0", "--batch-size", "5",
         "--policies", str(POLICIES), "--json"]
    )  # fmt: skip
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["scenario"] for r in rows] == ["ner", "patterns"]
    for row in rows:
        assert row["messages"] == 12
        assert row["stage_msgs_per_s"] > 0
        assert row["baseline_msgs_per_s"] > 0
    assert rows[1]["stage_flagged"] == 0


def test_mas_bench_dlp_on_given_payloads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "corpus.jsonl"
    rows = [{"payload": {"text": f"ssn 536-22-{1000 + i}"}} for i in range(4)]
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    code = main(
        ["bench", "dlp", "--scenario", "patterns", "--workers", "0", "--policies", str(POLICIES),
         "--payloads", str(file), "--json"]
    )  # fmt: skip
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["messages"], row["stage_flagged"]) == (4, 4)
    file.write_text("[1, 2]\n", encoding="utf-8")
    assert main(["bench", "dlp", "--payloads", str(file)]) == 2
    assert "must be a JSON object" in capsys.readouterr().err
