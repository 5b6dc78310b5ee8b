"""Circuit tests: SDK agents through a real gateway whose circuits the test polls itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas_gateway import GatewayService, GatewaySettings
from mas_gateway.circuits import CircuitKeeper

from ..gateway.conftest import _close_probe_clients  # noqa: F401 - closes ProbeAgent clients
from ..polling import wait_until
from ..principals import gateway_url
from ..sdk.conftest import creds_dir, sdk_env, sdk_policies  # noqa: F401 - fixtures

MANUAL = 3600.0
"""`circuit_poll_s` of a gateway whose circuits only move when the test polls them."""


def circuit_settings(
    redis_url: str, tmp_path: Path, circuits: str | None, **overrides: object
) -> GatewaySettings:
    """A gateway on the SDK test policies plus `circuits` as circuits.yaml."""
    policies = tmp_path / "policies"
    if not policies.exists():
        sdk_policies(policies)
        limits = policies / "ratelimits.yaml"  # bursts of a thousand messages pass
        generous = "roles:\n  sdk-tester:\n    rate: 10000\n    burst: 10000\n"
        limits.write_text(limits.read_text().replace("roles:\n", generous, 1))
        if circuits is not None:
            (policies / "circuits.yaml").write_text(circuits, encoding="utf-8")
    values: dict[str, object] = {
        "redis_url": gateway_url(redis_url),
        "policies_dir": policies,
        "auto_provision": True,
        "signing_key_path": tmp_path / "gw.key",
        "block_ms": 50,
        "policy_poll_s": None,
        "dlp_workers": 0,
        "circuit_poll_s": MANUAL,
        **overrides,
    }
    return GatewaySettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def circuits_yaml() -> str | None:
    """circuits.yaml of the test's gateway (override per module or test)."""
    return None


@pytest.fixture
def circuit_poll_s() -> float:
    """How often the gateway's own loop polls (default: never during a test)."""
    return MANUAL


@pytest.fixture
async def gateway(
    sdk_env: str,  # noqa: F811
    tmp_path: Path,
    circuits_yaml: str | None,
    circuit_poll_s: float,
) -> AsyncIterator[GatewayService]:
    """A real gateway; by default its circuits move only when the test polls them."""
    settings = circuit_settings(sdk_env, tmp_path, circuits_yaml, circuit_poll_s=circuit_poll_s)
    async with GatewayService(settings) as service:
        yield service


def keeper(gateway: GatewayService) -> CircuitKeeper:
    """The gateway's circuit keeper."""
    assert gateway.circuits is not None
    return gateway.circuits


async def state(admin: aioredis.Redis, agent_id: str) -> str | None:
    """The stored state of an agent's circuit."""
    value = await admin.hget(keys.circuit(agent_id), "state")
    return value.decode() if value is not None else None


async def parked(admin: aioredis.Redis, agent_id: str) -> int:
    """How many deliveries are parked for an agent."""
    return int(await admin.xlen(keys.agent_parked(agent_id)))


async def poll_until(
    gateway: GatewayService,
    predicate: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float = 30,
) -> None:
    """Poll the gateway's circuits until `predicate` holds."""

    async def polled() -> bool:
        await keeper(gateway).poll()
        return await predicate()

    await wait_until(polled, timeout, what)
