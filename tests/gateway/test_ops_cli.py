"""Operator commands: `mas status`, `mas agent list`, the --json convention, a light CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, keys
from mas.consumer import Batch, ConsumerSettings, StreamConsumer
from mas_gateway.cli import main
from mas_gateway.cli.common import JsonFormatter
from mas_gateway.devstack import DevStack
from mas_gateway.outboxes import Outboxes, owner_of
from mas_gateway.presence import (
    INTERVAL_S,
    PRUNE_AFTER_S,
    GatewayPresence,
    PresenceRecord,
    read_presence,
)
from mas_gateway.signing import write_signing_key

from ..polling import wait_until
from ..principals import gateway_url
from .helpers import REPO_POLICIES


class Doctor(Agent):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("doctor", **kwargs)  # type: ignore[arg-type]

    @Agent.on("consultation.request")
    async def consult(self, message: AgentMessage, payload: None) -> None:
        await message.reply("consultation.response", {"answer": "rest"})


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


def _json_out(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


async def _consumers(client: aioredis.Redis, agent_id: str) -> list[str]:
    reply = await client.xinfo_consumers(keys.agent_outbox(agent_id), keys.GATEWAY_GROUP)
    return [c["name"].decode() for c in reply]


async def test_status_and_agent_list_show_a_running_system(
    redis_url: str, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    async with DevStack(redis_url=redis_url) as stack:
        assert stack.gateway is not None
        gateway = stack.gateway
        doctor = Doctor(**stack.agent_options())
        patient = Agent("patient", **stack.agent_options())
        async with doctor, patient:
            reply = await patient.request("doctor", "consultation.request", {"q": "x"}, timeout=10)
            assert reply.data == {"answer": "rest"}

            async def batch_published() -> bool:
                return any(r.last_batch_at for r in await read_presence(redis_client))

            await wait_until(batch_published, 10, "the gateway to publish its last batch time")
            capsys.readouterr()

            assert await cli("status", "--json", "--redis-url", redis_url) == 0
            status = _json_out(capsys)
            assert isinstance(status, dict)
            [record] = status["gateways"]["records"]
            assert status["gateways"]["alive"] == 1 and record["alive"] is True
            assert record["consumer"] == gateway.consumer
            assert gateway.policy is not None
            assert record["policy_version"] == gateway.policy.current.version
            assert status["policy"]["in_force"] == [record["policy_version"]]
            assert status["agents"] == 2
            assert status["outboxes"]["pending"] == 0
            assert status["dead_letters"] == {"gateway": 0, "agents": 0, "top_agents": []}
            assert status["audit"]["entries"] >= 2

            assert await cli("status", "--redis-url", redis_url) == 0
            text = capsys.readouterr().out
            assert "gateways: 1 alive of 1 known" in text and "dead letters:" in text

            assert await cli("agent", "list", "--json", "--redis-url", redis_url) == 0
            agents = _json_out(capsys)
            assert isinstance(agents, list)
            assert [a["id"] for a in agents] == ["doctor", "patient"]
            for agent in agents:
                assert agent["status"] == "ACTIVE" and len(agent["instances"]) == 1
                assert agent["revoked"] is False and agent["heartbeat_age_s"] >= 0
                assert agent["provisioned_by"] == "auto"
                assert "token_hash" not in agent

            assert await cli("agent", "list", "--redis-url", redis_url) == 0
            lines = capsys.readouterr().out.splitlines()
            header = ["AGENT", "STATUS", "HEARTBEAT", "INSTANCES", "ROLES", "REVOKED"]
            assert lines[0].split() == header
            assert [line.split()[0] for line in lines[1:]] == ["doctor", "patient"]
        assert gateway.consumer in await _consumers(redis_client, "patient")

    # A clean stop removes the gateway's presence record and its idle outbox consumers.
    assert await read_presence(redis_client) == []
    assert gateway.consumer not in await _consumers(redis_client, "patient")
    assert await cli("status", "--json", "--redis-url", redis_url) == 1  # no gateway alive
    assert _json_out(capsys)["gateways"]["alive"] == 0  # type: ignore[index]


async def test_a_consumer_leaves_only_the_outboxes_where_it_holds_nothing(
    redis_client: aioredis.Redis,
) -> None:
    await redis_client.sadd(keys.ALL_AGENTS, "busy", "quiet")  # type: ignore[misc]
    outboxes = Outboxes(redis_client, "gw-test")
    await outboxes.refresh()
    await redis_client.xadd(keys.agent_outbox("busy"), {"envelope": b"{}"})
    await redis_client.xadd(keys.agent_outbox("quiet"), {"envelope": b"{}"})
    taken: list[str] = []
    both = asyncio.Event()

    async def process(batch: Batch) -> None:
        for entry in batch.entries:
            taken.append(owner_of(entry.stream))
            if owner_of(entry.stream) == "quiet":
                await redis_client.xack(entry.stream, keys.GATEWAY_GROUP, entry.entry_id)
        if len(taken) == 2:
            both.set()

    consumer = StreamConsumer(
        redis_client,
        group=keys.GATEWAY_GROUP,
        consumer="gw-test",
        streams=outboxes.streams,
        settings=ConsumerSettings(batch_size=10, max_inflight=10, block_ms=100, claim_idle_s=60.0),
        process=process,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(10):
            await both.wait()
    finally:
        await consumer.stop(5.0)  # leaves the group where it holds nothing
    assert sorted(taken) == ["busy", "quiet"]
    assert await _consumers(redis_client, "busy") == ["gw-test"]  # its entry stays claimed
    assert await _consumers(redis_client, "quiet") == []


def test_json_convention_for_policy_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "--json", "--policies", str(REPO_POLICIES)]) == 0
    check = _json_out(capsys)
    assert isinstance(check, dict) and check["ok"] is True and len(check["version"]) == 64
    assert main(["policy", "test", "--json", "--policies", str(REPO_POLICIES)]) == 0
    report = _json_out(capsys)
    assert isinstance(report, dict) and report["ok"] is True
    assert report["passed"] == report["total"] == len(report["cases"]) > 0


async def test_list_commands_print_one_json_array(
    redis_url: str, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    await redis_client.xadd(keys.DLQ, {"dlq_reason": "internal gateway error in stage dlp"})
    assert await cli("dlq", "list", "--json", "--redis-url", redis_url) == 0
    [letter] = _json_out(capsys)  # type: ignore[misc]
    assert letter["owner"] == "gateway"
    assert await cli("audit", "query", "--json", "--redis-url", redis_url) == 0
    assert _json_out(capsys) == []
    assert await cli("agent", "list", "--json", "--redis-url", redis_url) == 0
    assert _json_out(capsys) == []
    assert await cli("acl", "show", "--json") == 0
    users = [p["username"] for p in _json_out(capsys)]  # type: ignore[union-attr]
    assert users == ["mas-gateway", "mas-service", "agent.ID"]


def test_log_level_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["gateway"], ["service"], ["demo"]):
        with pytest.raises(SystemExit) as caught:
            main([*command, "--log-level", "LOUD"])
        assert caught.value.code == 2
        assert "'LOUD' is not a log level (choose from DEBUG, INFO" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["gateway", "--log-format", "xml"])


def test_json_log_records_are_one_object_per_line() -> None:
    record = logging.LogRecord("mas_gateway.x", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert parsed["level"] == "WARNING" and parsed["message"] == "a b" and "\n" not in line


def test_cli_constants_match_their_homes() -> None:
    from mas_gateway.audit.verifier import DEFAULT_MAX_UNCOVERED_AGE_S
    from mas_gateway.cli import audit
    from mas_gateway.settings import WITNESS_NAME

    assert audit.WITNESS_NAME == WITNESS_NAME
    assert audit.MAX_UNCOVERED_AGE_S == DEFAULT_MAX_UNCOVERED_AGE_S


HEAVY = ("redis", "casbin", "spacy", "presidio_analyzer", "pydantic_settings", "mas_gateway.audit")

_PROBE = textwrap.dedent(
    """
    import json, sys
    from mas_gateway.cli import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
    """
)


def _modules_loaded(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, check=False
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stderr
    return set(result["modules"])


def _heavy(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("agent", "list", "--help"),
        ("agent", "show", "--help"),
        ("audit", "verify", "--help"),
        ("dlq", "list", "--help"),
        ("status", "--help"),
        ("policy", "check", "--help"),
    ],
)
@pytest.mark.subprocess
def test_help_loads_no_heavy_module(argv: tuple[str, ...]) -> None:
    assert _heavy(_modules_loaded(*argv)) == []


@pytest.mark.subprocess
def test_policy_check_loads_no_nlp() -> None:
    loaded = _modules_loaded("policy", "check", "--policies", str(REPO_POLICIES))
    assert _heavy(loaded, ("spacy", "presidio_analyzer", "presidio_anonymizer", "redis")) == []


@pytest.mark.subprocess
def test_agent_list_loads_no_nlp(redis_url: str) -> None:
    loaded = _modules_loaded("agent", "list", "--redis-url", redis_url)
    assert _heavy(loaded, ("spacy", "presidio_analyzer", "casbin")) == []


async def test_presence_marks_silent_gateways_gone_and_prunes_old_ones(
    redis_client: aioredis.Redis,
) -> None:
    now = time.time()
    for consumer, age in (("gw-silent", 60.0), ("gw-ancient", PRUNE_AFTER_S + 60)):
        old = PresenceRecord(consumer, "gw", "v1", now - age, None, now - age, INTERVAL_S)
        await redis_client.hset(keys.GATEWAY_PRESENCE, consumer, old.to_json())  # type: ignore[misc]
    policy = SimpleNamespace(current=SimpleNamespace(version="v2"))
    presence = GatewayPresence(redis_client, "gw-live", "gw", policy)  # type: ignore[arg-type]
    await presence.publish()
    records = {r.consumer: r for r in await read_presence(redis_client)}
    assert sorted(records) == ["gw-live", "gw-silent"]  # the ancient record is pruned
    assert records["gw-live"].alive(time.time()) and records["gw-live"].policy_version == "v2"
    assert not records["gw-silent"].alive(time.time())
    await presence.stop()
    assert [r.consumer for r in await read_presence(redis_client)] == ["gw-silent"]


def test_mas_gateway_prints_a_ready_line_once_it_consumes(redis_url: str, tmp_path: Path) -> None:
    key = tmp_path / "gateway.key"
    write_signing_key(key)
    command = [sys.executable, "-m", "mas_gateway.cli", "gateway", "--log-level", "WARNING"]
    options = ["--redis-url", gateway_url(redis_url), "--policies", str(REPO_POLICIES)]
    proc = subprocess.Popen(
        [*command, *options, "--signing-key", str(key)],
        env={**os.environ, "MAS_HTTP_ADDRESS": "127.0.0.1:0", "MAS_DLP_WORKERS": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = next(line for line in proc.stderr if not line[:4].isdigit())  # not a log record
        found = re.fullmatch(
            r"mas gateway: ready \(gateway (\S+), policy ([0-9a-f]{12}), "
            r"operations on http://127\.0\.0\.1:(\d+)\)\n",
            line,
        )
        assert found, line
        port = int(found.group(3))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            assert json.loads(response.read())["ready"] is True  # ready means ready
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an orphan's zombie may never be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.subprocess
@pytest.mark.slow
async def test_dlp_workers_exit_when_their_gateway_is_killed(
    redis_url: str, tmp_path: Path
) -> None:
    """Workers ignore SIGTERM and hold their own queue open: they must watch the gateway."""
    key = tmp_path / "gateway.key"
    write_signing_key(key)
    command = [sys.executable, "-m", "mas_gateway.cli", "gateway", "--log-level", "WARNING"]
    options = ["--redis-url", gateway_url(redis_url), "--policies", str(REPO_POLICIES)]
    proc = await asyncio.create_subprocess_exec(
        *command,
        *options,
        "--signing-key",
        str(key),
        env={**os.environ, "MAS_HTTP_ADDRESS": "127.0.0.1:0", "MAS_DLP_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        while b"mas gateway: ready" not in (line := await proc.stderr.readline()):
            assert line, "the gateway exited before it was ready"
        children = _children(proc.pid)
        assert children, "the gateway started no worker process"
        proc.kill()
        await asyncio.wait_for(proc.wait(), 30)

        async def all_gone() -> bool:
            return not any(_running(pid) for pid in children)

        await wait_until(all_gone, 60, "the DLP worker processes to exit")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
