"""`mas bench gateway` moves every message in both paths and reports comparable figures."""

from __future__ import annotations

import json

import pytest

from mas_gateway.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def test_bench_gateway_delivers_all_messages_and_reports_a_ratio(
    redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_DLP_WORKERS", "0")  # inherited by the gateway process
    assert main(["bench", "gateway", "--messages", "200", "--redis-url", redis_url, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["messages"] == 200
    assert figures["gateway_msgs_per_s"] > 0 and figures["baseline_msgs_per_s"] > 0
    expected = figures["gateway_msgs_per_s"] / figures["baseline_msgs_per_s"]
    assert figures["ratio_to_baseline"] == pytest.approx(expected, abs=0.001)
