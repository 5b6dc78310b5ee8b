"""The operator dashboard: token-protected data, drawn by its own script in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from mas import crypto
from mas_gateway import GatewayService

from ..compliance.browser import dump_url
from .helpers import ProbeAgent, gateway_settings, idle

TOKEN = crypto.generate_token()


@pytest.fixture
async def gateway(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> AsyncIterator[GatewayService]:
    doctor = await ProbeAgent.provision(redis_client, "doctor", ["doctor"])
    await ProbeAgent.provision(redis_client, "patient", ["patient"])
    settings = gateway_settings(
        redis_url,
        tmp_path,
        http_address="127.0.0.1:0",
        dashboard_token_sha256=crypto.hash_token(TOKEN),
    )
    async with GatewayService(settings) as service:
        for n in range(3):
            await doctor.send("patient", "consultation.response", {"n": n})
        await doctor.send("patient", "no.such.route", {})
        await doctor.send("patient", "consultation.response", {"note": "SSN 123-45-6789"})
        await idle(service)
        assert service.checkpointer is not None
        await service.checkpointer.checkpoint_now()
        yield service


def base(gateway: GatewayService) -> str:
    return f"http://127.0.0.1:{gateway.ops_port}"


async def test_the_data_needs_the_operator_token(gateway: GatewayService) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            async with http.get(f"{base(gateway)}/api/status", headers=headers) as response:
                assert response.status == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(f"{base(gateway)}/api/status", headers=auth) as response:
            assert response.status == 200
            status = await response.json()
        async with http.get(f"{base(gateway)}/dashboard") as response:
            page = await response.text()
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert status["decisions"]["totals"]["delivered"] == 3
    assert TOKEN not in page and "123-45-6789" not in str(status)


@pytest.mark.browser
@pytest.mark.subprocess
async def test_chromium_shows_agents_decisions_denials_and_audit_state(
    gateway: GatewayService, tmp_path: Path
) -> None:
    dom = await dump_url(
        f"{base(gateway)}/dashboard#token={TOKEN}",
        tmp_path / "profile",
        "--virtual-time-budget=5000",
    )
    rows = dict(re.findall(r'data-decision="(\w+)" data-value="(\d+)"', dom))
    assert rows["delivered"] == "3" and rows["denied"] == "1" and rows["blocked"] == "1"
    agents = re.findall(r'<tr data-agent="([\w.-]+)" data-alive="(\w+)" data-status="(\w+)"', dom)
    assert sorted(a for a, _, _ in agents) == ["doctor", "patient"]
    assert re.search(r'<tr data-entity="US_SSN" data-value="1"', dom)
    assert re.search(r'data-rule="[^"]*" data-value="1"', dom)
    assert 'data-state="verified"' in dom
    refreshes = int(re.search(r'id="refreshes">(\d+)<', dom).group(1))  # type: ignore[union-attr]
    assert refreshes >= 2  # it polled again without a reload
    assert re.search(r'<rect [^>]*data-decision="delivered" data-value="3"', dom)
