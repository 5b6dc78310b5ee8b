"""Gateway test fixtures: two provisioned agents; close the connections the helpers opened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from .helpers import OPEN_CLIENTS, ProbeAgent, World


@pytest.fixture
async def world(redis_client: aioredis.Redis, tmp_path: Path) -> AsyncIterator[World]:
    """A doctor and a patient, provisioned by the operator."""
    doctor = await ProbeAgent.provision(redis_client, "doctor", ["doctor"])
    patient = await ProbeAgent.provision(redis_client, "patient", ["patient"])
    yield World(doctor, patient, redis_client, tmp_path)


@pytest.fixture(autouse=True)
async def _close_probe_clients() -> AsyncIterator[None]:
    yield
    while OPEN_CLIENTS:
        await OPEN_CLIENTS.pop().aclose(close_connection_pool=True)
