"""Gateway key trust: pinned by configuration or credential file, trust on first use only once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, ConfigError, crypto, keys

from .conftest import FAST, DeliverySigner, dead_letters


class Inbox(Agent):
    def __init__(self, agent_id: str, **kwargs: object) -> None:
        super().__init__(agent_id, **kwargs)
        self.got: list[str] = []

    @Agent.on("ping")
    async def ping(self, message: AgentMessage, payload: None) -> None:
        self.got.append(message.message_id)


async def _reasons(redis: aioredis.Redis) -> list[str]:
    return [f[b"dlq_reason"].decode() for _, f in await dead_letters(redis)]


async def test_first_use_pins_keys_published_later(
    sdk_env: str, creds_dir: Path, redis_client: aioredis.Redis
) -> None:
    first = DeliverySigner(redis_client)
    async with Inbox("inbox", **FAST) as inbox:
        assert json.loads((creds_dir / "inbox.json").read_text())["gateway_keys"] == {}
        await first.publish_key()
        trusted = await first.deliver("inbox", "ping")
        await inbox.wait_idle()
        pinned = json.loads((creds_dir / "inbox.json").read_text())["gateway_keys"]
        assert pinned == {first.key_id: first.public_key}

        second = DeliverySigner(redis_client)
        await second.publish_key()  # e.g. an attacker with write access to Redis
        await second.deliver("inbox", "ping")
        await inbox.wait_idle()
    assert inbox.got == [trusted.message_id]
    [reason] = await _reasons(redis_client)
    assert second.key_id in reason and "untrusted" in reason
    assert (creds_dir / "inbox.json").stat().st_mode & 0o777 == 0o600


async def test_pinned_keys_survive_restart(sdk_env: str, gateway: DeliverySigner) -> None:
    async with Inbox("inbox", **FAST):
        pass
    await gateway.redis.delete(keys.GATEWAY_KEYS)
    async with Inbox("inbox", **FAST) as inbox:
        sent = await gateway.deliver("inbox", "ping")
        await inbox.wait_idle()
    assert inbox.got == [sent.message_id]


async def test_no_first_use_trust_without_auto_provision(
    sdk_env: str, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = DeliverySigner(redis_client)
    monkeypatch.setenv("MAS_AUTO_PROVISION", "0")
    async with Inbox("strict", auto_provision=True, **FAST):
        pass  # credentials provisioned while no gateway key was published: nothing pinned
    await signer.publish_key()
    async with Inbox("strict", **FAST) as strict:
        await signer.deliver("strict", "ping")
        await strict.wait_idle()
    assert strict.got == []
    [reason] = await _reasons(redis_client)
    assert "untrusted key id" in reason


async def test_configured_key_is_trusted_and_nothing_else(
    sdk_env: str, redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned, other = DeliverySigner(redis_client), DeliverySigner(redis_client)
    await other.publish_key()
    monkeypatch.setenv("MAS_GATEWAY_PUBLIC_KEY", pinned.public_key)
    async with Inbox("inbox", **FAST) as inbox:
        good = await pinned.deliver("inbox", "ping")
        await other.deliver("inbox", "ping")
        await inbox.wait_idle()
    assert inbox.got == [good.message_id]
    assert len(await _reasons(redis_client)) == 1


async def test_bad_configured_key_is_a_config_error(sdk_env: str) -> None:
    with pytest.raises(ConfigError, match="gateway public key"):
        await Inbox("inbox", gateway_public_key="not-a-key", **FAST).start()
    key = crypto.public_key_to_b64(crypto.generate_private_key())
    async with Inbox("inbox", gateway_public_key=key, **FAST):
        pass
