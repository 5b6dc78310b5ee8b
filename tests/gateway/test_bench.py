"""`mas bench gateway`: every message of both paths arrives once, figures are computed, never
timed: speed is what the benchmark reports, not what these tests check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from mas_gateway.benchmarks.children import BenchError, Child
from mas_gateway.benchmarks.figures import PathResult, ScenarioResult, latency_summary
from mas_gateway.benchmarks.policies import bench_policies
from mas_gateway.benchmarks.procstats import redis_sample, tree_sample
from mas_gateway.benchmarks.report import scenario_block, scenario_line
from mas_gateway.benchmarks.scenarios import (
    DEFAULT_SET,
    QUICK_SET,
    SCENARIOS,
    custom_scenario,
    scenario_named,
    select,
)
from mas_gateway.benchmarks.traffic import payload_text
from mas_gateway.cli import main
from mas_gateway.settings import default_policies_dir

MESSAGES = 40

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


def _check_path(path: dict[str, Any], gateways: int) -> None:
    assert path["sent"] == path["delivered"] == MESSAGES
    assert path["duplicates"] == 0 and path["unexpected"] == 0 and path["exactly_once"]
    assert path["msgs_per_s"] > 0 and path["submit_msgs_per_s"] > 0 and path["elapsed_s"] > 0
    latency = path["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    roles = [p["role"] for p in path["processes"]]
    assert roles == ["sender", "receiver", *["gateway"] * gateways, "redis"]
    for process in path["processes"]:
        usage = process["usage"]
        assert usage["cpu_user_s"] >= 0 and usage["cpu_sys_s"] >= 0
        assert usage["cpu_us_per_msg"] >= 0
    workers = [p["usage"] for p in path["processes"] if p["role"] in ("sender", "receiver")]
    assert all(w["cpu_user_s"] + w["cpu_sys_s"] > 0 and w["peak_rss_mb"] > 0 for w in workers)


@pytest.mark.timeout(900)  # an upper bound: two gateway starts and spaCy on a loaded machine
def test_bench_gateway_delivers_every_message_once_on_both_paths(
    redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_DLP_WORKERS", "0")  # inherited by the gateway processes
    scenarios = ["throughput", "latency", "agents-10", "ner", "gateways-2"]
    argv = ["bench", "gateway", "--messages", str(MESSAGES), "--rate", "100"]
    argv += [a for name in scenarios for a in ("--scenario", name)]
    assert main([*argv, "--redis-url", redis_url, "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["benchmark"] == "gateway" and document["ok"] is True
    assert document["machine"]["cpus"] >= 1
    by_name = {s["name"]: s for s in document["scenarios"]}
    assert sorted(by_name) == sorted(scenarios)
    for name, figures in by_name.items():
        gateways = 2 if name == "gateways-2" else 1
        assert figures["ok"] is True and figures["error"] is None, name
        assert figures["config"]["gateway_processes"] == gateways
        _check_path(figures["plain"], gateways=0)
        _check_path(figures["gateway"], gateways=gateways)
        expected = figures["gateway"]["msgs_per_s"] / figures["plain"]["msgs_per_s"]
        assert figures["ratio_to_baseline"] == pytest.approx(expected, rel=0.01, abs=0.001)
    assert by_name["agents-10"]["config"]["senders"] == 5
    assert by_name["agents-10"]["config"]["registered_agents"] >= 10
    assert by_name["latency"]["config"]["offered_msgs_per_s"] == 100
    # NER traffic names a person in every message: the DLP ran the model and redacted it.
    assert by_name["ner"]["gateway"]["redacted"] == MESSAGES
    assert by_name["throughput"]["gateway"]["redacted"] == 0
    assert "throughput: plain Redis streams" in captured.err  # progress on stderr


def test_a_worker_that_dies_is_reported_with_its_code_and_output(tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('cannot reach Redis\\n'); sys.exit(3)"
    child = Child("receiver-0", [sys.executable, "-c", script], tmp_path / "w.log")
    try:
        with pytest.raises(BenchError) as caught:
            child.expect("ready", timeout_s=60)
    finally:
        child.kill()
    message = str(caught.value)
    assert "receiver-0 exited with code 3 before reporting 'ready'" in message
    assert "cannot reach Redis" in message


def _path(delivered: int, *, duplicates: int = 0, timed_out: bool = False) -> PathResult:
    return PathResult(
        path="gateway",
        sent=10,
        expected=10,
        delivered=delivered,
        duplicates=duplicates,
        unexpected=0,
        redacted=0,
        timed_out=timed_out,
        started_at=100.0,
        sent_at=101.0,
        finished_at=102.0,
        latencies_ms=[1.0] * delivered,
        refused={"403": 10 - delivered} if delivered < 10 else {},
    )


def test_missing_and_duplicate_messages_fail_the_scenario_with_a_reason() -> None:
    result = ScenarioResult(scenario_named("throughput"), plain=_path(10))
    result.gateway = _path(7, duplicates=1, timed_out=True)
    result.error = result.gateway.problem()
    assert not result.ok
    assert result.error == (
        "7 of 10 messages arrived through the gateway before the timeout; 1 arrived twice; "
        "the gateway refused some (codes 403: 3)"
    )
    assert scenario_line(result).startswith("throughput FAIL gateway=3.5/s plain=5.0/s")
    assert "FAILED: 7 of 10" in scenario_block(result)


def test_a_complete_scenario_has_one_line_with_its_figures() -> None:
    result = ScenarioResult(scenario_named("throughput"), plain=_path(10), gateway=_path(10))
    assert result.ok and result.ratio == pytest.approx(1.0)
    line = scenario_line(result)
    assert line.startswith("throughput ok gateway=5.0/s plain=5.0/s ratio=1.000")
    assert "\n" not in line


def test_latency_percentiles() -> None:
    summary = latency_summary([float(x) for x in range(1, 101)])
    assert summary is not None
    assert summary["p50"] == pytest.approx(50.5) and summary["p99"] == pytest.approx(99.01)
    assert summary["max"] == 100.0
    assert latency_summary([]) is None


def test_payloads_have_the_asked_size_and_differ() -> None:
    for traffic in ("clean", "ner"):
        texts = {payload_text(traffic, i, 4096) for i in range(500)}
        assert len(texts) == 500 and {len(t) for t in texts} == {4096}
    assert len(payload_text("clean", 7, 64)) == 64
    assert "please ask Margaret Whitfield" in payload_text("ner", 0, 64)


def test_an_unknown_scenario_is_refused_with_the_known_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "gateway", "--scenario", "warp-speed"]) == 2
    err = capsys.readouterr().err
    assert "no benchmark scenario 'warp-speed'" in err
    assert all(name in err for name in SCENARIOS)


def test_the_large_benchmark_policy_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = bench_policies(default_policies_dir(), tmp_path / "p", extra_rules=1000)
    assert main(["policy", "check", "--policies", str(policies), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"] >= 1000


def test_scenario_selection() -> None:
    assert [s.name for s in select([])] == list(DEFAULT_SET)
    quick = select([], quick=True)
    assert [s.name for s in quick] == list(QUICK_SET)
    assert quick[0].message_count == SCENARIOS["throughput"].messages // 5
    assert [s.name for s in select(["all"])] == list(SCENARIOS)
    chosen = select(["latency", "throughput", "latency"], messages=30, rate=50.0)
    assert [(s.name, s.message_count, s.rate) for s in chosen] == [
        ("latency", 30, 50.0),
        ("throughput", 30, None),  # not a paced scenario: the rate does not apply
    ]
    # Large payloads are capped by the payload budget, never below one per sender.
    assert select(["payload-256k"], messages=10_000)[0].message_count == 256
    with pytest.raises(KeyError, match="no benchmark scenario 'nope'"):
        select(["nope"])


def test_a_custom_scenario_counts_active_and_registered_agents() -> None:
    custom = custom_scenario(agents=100, registered=1000, size=4096, policy_rules=1000)
    assert (custom.pairs, custom.registered, custom.size, custom.policy_rules) == (
        50,
        1000,
        4096,
        1000,
    )
    assert custom.description.startswith("50 -> 50 agents of 1000 registered, 4096 B clean")
    assert custom_scenario(agents=10).registered == 10
    only = select([], custom=custom)
    assert [s.name for s in only] == ["custom"]


def test_process_samples_cover_children_and_the_redis_server(redis_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    try:
        sample = tree_sample(os.getpid())
        assert sample is not None and sample.processes >= 2
        assert sample.user_s > 0 and sample.peak_rss_kb is not None and sample.peak_rss_kb > 0
    finally:
        child.communicate(b"")
    client = redis.Redis.from_url(redis_url)
    try:
        info = {**client.info("cpu"), **client.info("server")}
    finally:
        client.close()
    server = redis_sample(info)
    assert server.user_s + server.sys_s > 0
    assert server.peak_rss_kb is not None and server.peak_rss_kb > 0  # a server on this machine
    assert tree_sample(2**22 + 12345) is None  # no such process


@pytest.mark.timeout(600)
def test_a_gateway_that_cannot_start_fails_the_scenario_with_its_reason(
    redis_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), broken)
    (broken / "policy.csv").write_text("p, agent, *, mas.error, perhaps\n", encoding="utf-8")
    monkeypatch.setattr("mas_gateway.benchmarks.stack.default_policies_dir", lambda: broken)
    argv = ["bench", "gateway", "--scenario", "throughput", "--messages", "5", "--json"]
    kept = tmp_path / "kept"
    assert main([*argv, "--redis-url", redis_url, "--keep", str(kept)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    (scenario,) = document["scenarios"]
    assert scenario["ok"] is False
    assert scenario["error"].startswith("gateway-0 exited with code 2 while starting")
    assert "perhaps" in scenario["error"]  # the gateway's own words, from its log
    assert scenario["plain"]["exactly_once"] is True  # measured before: kept
    assert scenario["gateway"] is None
    assert "perhaps" in (kept / "gateway-0.log").read_text(encoding="utf-8")
    # A kept directory is never mixed with an earlier run's files.
    assert main([*argv, "--redis-url", redis_url, "--keep", str(kept)]) == 2
    assert "the directory is not empty" in capsys.readouterr().err
