"""The operator dashboard: token-protected data, drawn by its own script in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from mas import crypto
from mas_gateway import GatewayService

from ..compliance.browser import dump_url, screenshot
from ..png import read_png
from .helpers import REPO_POLICIES, ProbeAgent, gateway_settings, idle

TOKEN = crypto.generate_token()

CIRCUITS = """\
targets:
  patient:
    require_live: true
    open_s: 3600
"""
"""The patient runs no instance: its circuit opens at the first poll (which the test runs)."""

SCREENSHOT_COPY = "MAS_TEST_DASHBOARD_SCREENSHOT"
"""When set, the screenshot test also copies its PNG to this path (to look at it)."""


@pytest.fixture
async def gateway(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> AsyncIterator[GatewayService]:
    doctor = await ProbeAgent.provision(redis_client, "doctor", ["doctor"])
    await ProbeAgent.provision(redis_client, "patient", ["patient"])
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    (policies / "circuits.yaml").write_text(CIRCUITS, encoding="utf-8")
    settings = gateway_settings(
        redis_url,
        tmp_path,
        policies_dir=policies,
        http_address="127.0.0.1:0",
        dashboard_token_sha256=crypto.hash_token(TOKEN),
        circuit_poll_s=3600.0,  # circuits move only when the fixture polls them
    )
    async with GatewayService(settings) as service:
        for n in range(3):
            await doctor.send("patient", "consultation.response", {"n": n})
        await doctor.send("patient", "no.such.route", {})
        await doctor.send("patient", "consultation.response", {"note": "SSN 123-45-6789"})
        await idle(service)
        assert service.circuits is not None
        await service.circuits.poll()  # no live patient: its circuit opens
        await doctor.send("patient", "consultation.response", {"n": 3})  # parked
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
    assert status["decisions"]["totals"]["parked"] == 1
    [circuit] = status["circuits"]
    assert circuit["agent_id"] == "patient" and circuit["state"] == "open"
    assert circuit["reason"] == "no live instance" and circuit["parked"] == 1
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
    circuits = re.findall(r'<tr data-circuit="(\w+)" data-state="(\w+)" data-parked="(\d+)"', dom)
    assert circuits == [("patient", "open", "1")]
    assert "no live instance" in dom


WIDTH, HEIGHT = 1100, 760
DELIVERED_GREEN = (0x2F, 0x8F, 0x5B)
REFUSED_RED = (0xC0, 0x50, 0x4D)
PAGE_GREY = (0xF6, 0xF7, 0xF9)


async def test_screenshot_of_the_dashboard_shows_its_chart_and_tables(
    gateway: GatewayService, tmp_path: Path
) -> None:
    png = await screenshot(
        f"{base(gateway)}/dashboard#token={TOKEN}",
        tmp_path / "profile",
        tmp_path / "dashboard.png",
        "--virtual-time-budget=5000",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
    )
    copy = os.environ.get(SCREENSHOT_COPY)
    if copy:
        shutil.copyfile(png, copy)
    assert png.stat().st_size > 20_000  # a blank page of this size compresses to ~3 kB
    image = read_png(png)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    colours = image.colours()
    assert image.pixels[0] == PAGE_GREY  # the dashboard's own page, not an error page
    assert colours.most_common(1)[0][1] < 0.9 * WIDTH * HEIGHT  # not one colour
    assert len(colours) > 50  # anti-aliased text in several colours, not a flat image
    assert colours[PAGE_GREY] > 0.1 * WIDTH * HEIGHT
    # the stacked bars were drawn: delivered in green, refused in red, each a block of pixels
    assert colours[DELIVERED_GREEN] > 200
    assert colours[REFUSED_RED] > 50
    assert colours[(0xFF, 0xFF, 0xFF)] > 0.1 * WIDTH * HEIGHT  # the white section cards
