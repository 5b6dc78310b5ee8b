"""The gateway's operations endpoints: liveness, readiness that notices a stall, metrics."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from mas.errors import ConfigError
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.ops.http import parse_address

from ..auditlog import audit_xrange
from ..polling import wait_until
from .helpers import Hold, ProbeAgent, gateway_settings, idle


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get(http: aiohttp.ClientSession, gateway: GatewayService, path: str) -> tuple[int, Any]:
    async with http.get(f"http://127.0.0.1:{gateway.ops_port}{path}") as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_readiness_fails_while_consumption_stalls_and_liveness_still_answers(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    doctor = await ProbeAgent.provision(redis_client, "doctor", ["doctor"])
    await ProbeAgent.provision(redis_client, "patient", ["patient"])
    Hold.reached, Hold.release = asyncio.Event(), asyncio.Event()
    stages = ["parse", "authn", "hold", "authz", "target", "dlp"]
    settings = gateway_settings(
        redis_url, tmp_path, stages=stages, http_address="127.0.0.1:0", ready_stall_s=0.5
    )
    async with GatewayService(settings) as gateway:

        async def ready() -> bool:
            return (await get(http, gateway, "/readyz"))[0] == 200

        await wait_until(ready, 10, "/readyz once the gateway consumes")
        await doctor.send("patient", "consultation.response", {"note": "fine"})
        await asyncio.wait_for(Hold.reached.wait(), 10)

        async def not_ready() -> bool:
            return (await get(http, gateway, "/readyz"))[0] == 503

        await wait_until(not_ready, 10, "/readyz to notice the stalled batch")
        _, report = await get(http, gateway, "/readyz")
        assert "has not completed a round" in report["checks"]["consuming"]
        assert report["checks"]["redis"] == "ok"
        assert await get(http, gateway, "/healthz") == (200, "ok\n")
        Hold.release.set()
        await wait_until(ready, 10, "/readyz to recover")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


async def test_metrics_match_the_audit_log(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    doctor = await ProbeAgent.provision(redis_client, "doctor", ["doctor"])
    await ProbeAgent.provision(redis_client, "patient", ["patient"])
    settings = gateway_settings(redis_url, tmp_path, http_address="127.0.0.1:0")
    async with GatewayService(settings) as gateway:
        for n in range(3):
            await doctor.send("patient", "consultation.response", {"n": n})
        await doctor.send("patient", "no.such.route", {})
        await doctor.send("patient", "consultation.response", {"card": "4111 1111 1111 1111"})
        await idle(gateway)
        status, text = await get(http, gateway, "/metrics")
        version = gateway.policy.current.version if gateway.policy else None
    assert status == 200
    found = samples(text)
    entries = await audit_xrange(redis_client)
    audited = Counter(parse_entry(fields[b"entry"])["decision"] for _, fields in entries)
    counted: Counter[str] = Counter()
    for labels, value in found["mas_gateway_decisions_total"]:
        counted[labels["decision"]] += int(value)
    assert counted == audited and sum(audited.values()) == 5
    delivered = audited["delivered"] + audited["redacted"]
    inbox = dict((labels["agent"], v) for labels, v in found["mas_gateway_inbox_entries"])
    # the patient's inbox holds the forwarded messages, the doctor's the refusal notices
    assert inbox["patient"] == delivered
    assert inbox["doctor"] == sum(audited.values()) - delivered
    assert found["mas_gateway_outbox_entries"] == [({}, 0.0)]
    assert found["mas_gateway_outbox_pending"] == [({}, 0.0)]
    assert found["mas_gateway_loops_up"] == [({}, 1.0)]
    assert found["mas_gateway_policy_info"] == [({"version": version}, 1.0)]
    stages = {labels["stage"] for labels, _ in found["mas_gateway_stage_seconds_count"]}
    assert {"parse", "authn", "authz", "dlp"} <= stages
    assert any(
        labels["entity_type"] == "CREDIT_CARD"
        for labels, _ in found.get("mas_gateway_dlp_findings_total", [])
    )
    assert "4111 1111" not in text and "4111111111111111" not in text


def test_a_bad_address_is_named() -> None:
    assert parse_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("9464", "localhost:", "host:port", ":80", "h:70000"):
        with pytest.raises(ConfigError, match="is not host:port"):
            parse_address(bad)


async def test_an_address_in_use_stops_the_start(redis_url: str, tmp_path: Path) -> None:
    first = gateway_settings(redis_url, tmp_path, http_address="127.0.0.1:0")
    async with GatewayService(first) as gateway:
        taken = f"127.0.0.1:{gateway.ops_port}"
        second = gateway_settings(redis_url, tmp_path / "b", http_address=taken)
        (tmp_path / "b").mkdir()
        with pytest.raises(ConfigError, match="cannot listen on"):
            async with GatewayService(second):
                pass
