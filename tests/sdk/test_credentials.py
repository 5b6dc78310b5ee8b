"""Credentials: lookup order, auto-provisioning, clear errors, file permissions, key mismatch."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import Agent, CredentialsError, crypto, keys
from mas.credentials import Credentials
from mas.provisioning import rotate_credentials

from .conftest import FAST


async def test_auto_provision_writes_private_file_and_registry(
    sdk_env: str, creds_dir: Path, redis_client: aioredis.Redis
) -> None:
    async with Agent("fresh", **FAST):
        pass
    path = creds_dir / "fresh.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    body = json.loads(path.read_text())
    assert set(body) == {
        "agent_id", "token", "private_key", "redis_username", "redis_password", "gateway_keys"
    }  # fmt: skip
    assert body["redis_username"] == "agent.fresh"
    identity = await redis_client.hgetall(keys.agent_identity("fresh"))
    trust = await redis_client.hgetall(keys.agent_trust("fresh"))
    key = crypto.load_private_key(body["private_key"])
    assert identity[b"public_key"].decode() == crypto.public_key_to_b64(key)
    assert identity[b"key_id"].decode() == crypto.key_id(key)
    assert trust[b"token_hash"].decode() == crypto.hash_token(body["token"])
    assert trust[b"provisioned_by"] == b"auto"
    assert body["redis_password"] not in str(await redis_client.hgetall(keys.agent_trust("fresh")))
    async with Agent("fresh", **FAST):
        pass  # the saved file is found and matches the registry


async def test_no_credentials_without_auto_provision(
    sdk_env: str, creds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_AUTO_PROVISION", "0")
    with pytest.raises(CredentialsError) as info:
        await Agent("nobody", **FAST).start()
    text = str(info.value)
    assert str(creds_dir / "nobody.json") in text
    assert "mas agent provision nobody --role" in text


async def test_someone_elses_key_is_refused(sdk_env: str, creds_dir: Path) -> None:
    async with Agent("taken", **FAST):
        pass
    (creds_dir / "taken.json").unlink()
    with pytest.raises(CredentialsError, match="already has a key"):
        await Agent("taken", **FAST).start()
    assert not (creds_dir / "taken.json").exists()


async def test_explicit_file_and_env_lookup(
    sdk_env: str, creds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Agent("owner", **FAST):
        pass
    moved = tmp_path / "elsewhere" / "owner-creds.json"
    moved.parent.mkdir()
    (creds_dir / "owner.json").rename(moved)
    monkeypatch.setenv("MAS_AUTO_PROVISION", "0")
    async with Agent("owner", credentials=moved, **FAST):
        pass
    monkeypatch.setenv("MAS_CREDENTIALS", str(moved))
    async with Agent("owner", **FAST):
        pass
    with pytest.raises(CredentialsError, match="belongs to agent 'owner'"):
        await Agent("other", credentials=moved, **FAST).start()
    with pytest.raises(CredentialsError, match=r"MAS_CREDENTIALS, belongs to 'owner'"):
        await Agent("other", **FAST).start()


async def test_world_readable_file_is_refused(sdk_env: str, creds_dir: Path) -> None:
    async with Agent("leaky", **FAST):
        pass
    (creds_dir / "leaky.json").chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        await Agent("leaky", **FAST).start()


async def test_rotated_credentials_are_reported(
    sdk_env: str, redis_client: aioredis.Redis, creds_dir: Path
) -> None:
    async with Agent("rotated", **FAST):
        pass
    await rotate_credentials(redis_client, "rotated")
    with pytest.raises(CredentialsError, match="revoked or rotated") as info:
        await Agent("rotated", **FAST).start()
    password = json.loads((creds_dir / "rotated.json").read_text())["redis_password"]
    assert password not in str(info.value)
    # the advice works as written: the agent is known, so new credentials need --replace-key
    assert "mas agent provision rotated --role ROLE --replace-key" in str(info.value)


async def test_unprovisioned_registry_without_auto_provision(
    sdk_env: str, creds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = Credentials.issued(
        agent_id="orphan",
        token=crypto.generate_token(),
        private_key_b64=crypto.private_key_to_b64(crypto.generate_private_key()),
        redis_username="agent.orphan",
        redis_password="not-a-user",
        gateway_keys={},
    )
    fake.save(creds_dir / "orphan.json")
    monkeypatch.setenv("MAS_AUTO_PROVISION", "0")
    with pytest.raises(CredentialsError, match="refused the credentials") as info:
        await Agent("orphan", **FAST).start()
    assert "not-a-user" not in str(info.value)


async def test_registry_key_must_match_the_file(
    sdk_env: str, creds_dir: Path, redis_client: aioredis.Redis
) -> None:
    async with Agent("swapped", **FAST):
        pass
    other = crypto.public_key_to_b64(crypto.generate_private_key())
    await redis_client.hset(keys.agent_identity("swapped"), "public_key", other)
    with pytest.raises(CredentialsError, match="different key"):
        await Agent("swapped", **FAST).start()


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials.issued(
        agent_id="secretive",
        token=crypto.generate_token(),
        private_key_b64=crypto.private_key_to_b64(crypto.generate_private_key()),
        redis_username="agent.secretive",
        redis_password="hunter2-hunter2",
        gateway_keys={},
    )
    assert creds.token not in repr(creds)
    assert crypto.private_key_to_b64(creds.private_key) not in repr(creds)
    assert "hunter2" not in repr(creds)


def test_broken_credential_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"agent_id": "x"}')
    path.chmod(0o600)
    with pytest.raises(CredentialsError, match="token"):
        Credentials.load(path)
    path.write_text("not json")
    with pytest.raises(CredentialsError, match="JSON"):
        Credentials.load(path)


async def test_a_development_file_from_another_server_is_replaced_by_auto_provisioning(
    sdk_env: str,
    redis_client: aioredis.Redis,
    creds_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Agent("wanderer", **FAST):
        pass
    before = json.loads((creds_dir / "wanderer.json").read_text())
    # a fresh server (e.g. a restarted throw-away one): no user, no record of the agent
    await redis_client.execute_command("ACL", "DELUSER", before["redis_username"])
    await redis_client.flushall()
    async with Agent("wanderer", **FAST) as agent:
        assert await agent.discover() != []
    after = json.loads((creds_dir / "wanderer.json").read_text())
    assert after["private_key"] != before["private_key"]
    assert "has no record of the agent" in caplog.text
    assert before["redis_password"] not in caplog.text and after["token"] not in caplog.text


async def test_a_file_for_a_known_agent_is_never_replaced_silently(
    sdk_env: str, redis_client: aioredis.Redis, creds_dir: Path
) -> None:
    async with Agent("settled", **FAST):
        pass
    before = (creds_dir / "settled.json").read_text()
    await redis_client.execute_command(
        "ACL", "DELUSER", json.loads(before)["redis_username"]
    )  # the agent's user is gone, its records are not: refused, nothing re-issued
    with pytest.raises(CredentialsError, match="revoked or rotated"):
        await Agent("settled", **FAST).start()
    assert (creds_dir / "settled.json").read_text() == before
