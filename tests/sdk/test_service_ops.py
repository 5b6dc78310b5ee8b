"""The MAS service's operations endpoints: liveness, readiness that notices a stall, metrics."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from mas import Agent, MASService, keys

from ..polling import wait_until
from ..principals import service_url
from .conftest import FAST


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get(http: aiohttp.ClientSession, service: MASService, path: str) -> tuple[int, Any]:
    async with http.get(f"http://127.0.0.1:{service.ops_port}{path}") as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_readiness_fails_while_the_health_check_stalls_and_liveness_still_answers(
    sdk_env: str, redis_client: aioredis.Redis, http: aiohttp.ClientSession
) -> None:
    # An ACTIVE agent without a heartbeat whose grace period never ends: every check
    # runs the mark-inactive script, which changes nothing. CLIENT PAUSE WRITE blocks
    # scripts but not PING or reads, so the check loop stalls while Redis answers.
    await redis_client.hset(
        keys.agent_record("waiting"), mapping={"status": "ACTIVE", "registered_at": "1e12"}
    )
    await redis_client.sadd(keys.ALL_AGENTS, "waiting")
    service = MASService(
        service_url(sdk_env),
        check_interval=0.05,
        grace_period=0.0,
        http_address="127.0.0.1:0",
        ready_stall_s=3.0,
    )
    async with service:

        async def ready() -> bool:
            return (await get(http, service, "/readyz"))[0] == 200

        await wait_until(ready, 10, "/readyz once the service checks")
        await redis_client.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
        try:

            async def not_ready() -> bool:
                return (await get(http, service, "/readyz"))[0] == 503

            await wait_until(not_ready, 10, "/readyz to fail while the check is blocked")
            status, report = await get(http, service, "/readyz")
            assert status == 503 and report["ready"] is False
            assert report["checks"]["redis"] == "ok"
            assert report["checks"]["loops"] == "ok"
            assert report["checks"]["event_relay"] == "ok"
            assert "health check loop has not completed a round" in report["checks"]["health_check"]
            assert await get(http, service, "/healthz") == (200, "ok\n")
        finally:
            await redis_client.execute_command("CLIENT", "UNPAUSE")
        await wait_until(ready, 15, "/readyz again once the check completes")


async def test_metrics_count_agents_heartbeats_and_events_without_naming_agents(
    sdk_env: str, redis_client: aioredis.Redis, http: aiohttp.ClientSession
) -> None:
    await redis_client.hset(
        keys.agent_record("lapsed-patient"), mapping={"status": "ACTIVE", "registered_at": "0"}
    )
    await redis_client.sadd(keys.ALL_AGENTS, "lapsed-patient")
    service = MASService(
        service_url(sdk_env), check_interval=0.05, grace_period=0.0, http_address="127.0.0.1:0"
    )
    async with service:
        # an event forged on one agent's channel for another is dropped by the relay
        await redis_client.publish(
            keys.agent_events_channel("mallory"),
            json.dumps({"type": "STATUS", "agent_id": "lapsed-patient", "status": "ACTIVE"}),
        )
        async with Agent("alive-doctor", **FAST):  # registers: one event relayed

            def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                return {
                    (s.name, tuple(sorted(s.labels.items()))): s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                }

            async def counted() -> bool:
                values = samples((await get(http, service, "/metrics"))[1])
                return (
                    values.get(("mas_service_agents", (("status", "ACTIVE"),))) == 1
                    and values.get(("mas_service_agents", (("status", "INACTIVE"),))) == 1
                    and values.get(("mas_service_events_total", (("outcome", "relayed"),)), 0) >= 1
                    and values.get(("mas_service_events_total", (("outcome", "dropped"),))) == 1
                    and values.get(("mas_service_heartbeats_seen_total", ()), 0) >= 1
                )

            await wait_until(counted, 15, "the service's metrics to count agents and events")
            status, text = await get(http, service, "/metrics")
        assert status == 200
        values = samples(text)
        assert values[("mas_service_agents_alive", ())] == 1
        assert values[("mas_service_marked_inactive_total", ())] == 1
        assert values[("mas_service_up", ())] == 1
        assert values[("mas_service_checks_total", ())] >= 1
        for loop in ("health_check", "event_relay"):
            assert ("mas_service_loop_round_age_seconds", (("loop", loop),)) in values
        for name in ("alive-doctor", "lapsed-patient", "mallory"):
            assert name not in text
        assert await get(http, service, "/healthz") == (200, "ok\n")


COMMANDS = {
    "python -m mas.service": [sys.executable, "-m", "mas.service"],
    "mas service": [sys.executable, "-m", "mas_gateway.cli", "service"],
}


def _options(command: list[str]) -> list[str]:
    out = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True).stdout
    return sorted(set(re.findall(r"(--[a-z][a-z-]+)", out)) - {"--help"})


def test_both_service_commands_take_the_same_options() -> None:
    options = {name: _options(command) for name, command in COMMANDS.items()}
    assert options["mas service"] == options["python -m mas.service"]
    assert {"--redis-url", "--check-interval", "--grace-period", "--http-address"} <= set(
        options["mas service"]
    )
    assert {"--ready-stall", "--log-level", "--log-format"} <= set(options["mas service"])


@pytest.mark.parametrize("name", list(COMMANDS))
def test_service_command_serves_healthz_at_its_http_address(redis_url: str, name: str) -> None:
    command = [*COMMANDS[name], "--redis-url", service_url(redis_url), "--check-interval", "0.1"]
    proc = subprocess.Popen(
        [*command, "--http-address", "127.0.0.1:0", "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            found = re.search(r"operations endpoints on http://127\.0\.0\.1:(\d+)", line)
            if found:
                json.loads(line)  # --log-format json is honoured
                port = int(found.group(1))
                break
        assert port is not None, "the service never said where it listens"
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.read() == b"ok\n"
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_bad_http_address_is_refused_naming_the_setting(redis_url: str) -> None:
    url = service_url(redis_url)
    done = subprocess.run(
        [*COMMANDS["python -m mas.service"], "--redis-url", url, "--http-address", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "http_address 'nowhere' is not host:port" in done.stderr
