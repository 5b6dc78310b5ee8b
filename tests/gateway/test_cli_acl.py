"""`mas acl show | apply | check`: the operator's view of the principals' Redis users."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import acl, keys
from mas_gateway.cli import main

from ..principals import gateway_url, service_url
from .helpers import ProbeAgent, connect_as


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


def test_show_prints_every_principal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["acl", "show", "--agent", "doctor"]) == 0
    out = capsys.readouterr().out
    for user in ("user mas-gateway", "user mas-service", "user agent.doctor"):
        assert user in out
    assert f"~{keys.agent_outbox('doctor')} ~{keys.agent_dlq('doctor')} +xadd" in out


async def test_apply_writes_working_urls_and_restores_agent_rules(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    doctor = await ProbeAgent.provision(redis_client, "doctor")
    await redis_client.execute_command(
        "ACL", "SETUSER", acl.agent_username("doctor"), "+@all", "~*"
    )
    assert await cli("acl", "check", "--redis-url", redis_url) == 1
    try:
        assert await cli("acl", "apply", "--out-dir", str(tmp_path), "--redis-url", redis_url) == 0
    finally:  # new passwords: later tests get theirs anew
        gateway_url.cache_clear()
        service_url.cache_clear()
    assert await cli("acl", "check", "--redis-url", redis_url) == 0
    url = (tmp_path / "mas-gateway.url").read_text().strip()
    assert oct((tmp_path / "mas-gateway.url").stat().st_mode & 0o777) == "0o600"
    gateway = aioredis.Redis.from_url(url)
    try:
        assert await gateway.execute_command("ACL", "WHOAMI") == b"mas-gateway"
    finally:
        await gateway.aclose()
    # The agent keeps its password but loses what it was never meant to have.
    again = connect_as(redis_client, acl.agent_username("doctor"), doctor_password(doctor))
    with pytest.raises(Exception, match="permissions"):
        await again.flushall()


def doctor_password(agent: ProbeAgent) -> str:
    """The password the probe agent's client logs in with."""
    return str(agent.client.connection_pool.connection_kwargs["password"])
