"""Authentication: tokens, signatures, replay protection, rotation, revocation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ConnectionError

from mas import crypto, keys
from mas.envelope import Envelope, dumps, sign_submission
from mas.errors import Unauthenticated
from mas.provisioning import revoke_agent, rotate_credentials
from mas_gateway import GatewayService
from mas_gateway.context import MessageContext
from mas_gateway.signing import write_signing_key
from mas_gateway.stages.authn import AuthenticationStage

from ..stages import run_stages
from .helpers import ProbeAgent, connect_as, deliveries, gateway_settings, idle, notices


async def test_signed_submission_is_delivered_with_both_signatures(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        mid = await patient.send("doctor", "consultation.request", {"question": "cough"})
        await idle(gateway)
        [delivery] = await deliveries(redis_client, gateway, "doctor")
    assert delivery.envelope.message_id == mid
    assert delivery.envelope.data == {"question": "cough"}
    assert delivery.gateway.kind == "message"
    assert delivery.sender_envelope is not None  # unmodified: sender's own signature travels
    assert gateway.counts["delivered"] == 1
    assert await redis_client.xlen(keys.agent_outbox("patient")) == 0  # token not left in Redis


async def test_wrong_token_is_refused(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    envelope = patient.envelope("doctor", "consultation.request", {})
    fields = sign_submission(envelope, patient.key, "not-the-token")
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.submit_fields(fields)
        await idle(gateway)
        assert await deliveries(redis_client, gateway, "doctor") == []
        # Only the patient's own Redis user can write its outbox: it is told why.
        [notice] = await notices(redis_client, gateway, "patient")
    assert (notice["code"], notice["reason"]) == (401, "invalid token")
    assert gateway.counts["unauthenticated"] == 1


async def test_forged_signature_is_refused_with_notice(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    fields = sign_submission(
        patient.envelope("doctor", "consultation.request", {"a": 1}), patient.key, patient.token
    )
    fields["envelope"] = fields["envelope"].replace(b'"a":1', b'"a":2')
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.submit_fields(fields)
        await idle(gateway)
        assert await deliveries(redis_client, gateway, "doctor") == []
        [notice] = await notices(redis_client, gateway, "patient")
    assert notice["code"] == 401
    assert "signature" in notice["reason"]


async def test_replayed_submission_is_rejected(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    fields = sign_submission(
        patient.envelope("doctor", "consultation.request", {}), patient.key, patient.token
    )
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.submit_fields(fields)
        await idle(gateway)
        await patient.submit_fields(dict(fields))  # the same bytes, captured and resent
        await idle(gateway)
        assert len(await deliveries(redis_client, gateway, "doctor")) == 1
        [notice] = await notices(redis_client, gateway, "patient")
    assert notice["code"] == 401
    assert "replay" in notice["reason"]


async def test_stale_timestamp_is_rejected(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    settings = gateway_settings(redis_url, tmp_path, replay_window_s=30)
    async with GatewayService(settings) as gateway:
        await patient.send("doctor", "consultation.request", {}, timestamp=time.time() - 3600)
        await idle(gateway)
        [notice] = await notices(redis_client, gateway, "patient")
    assert notice["code"] == 401
    assert "replay window" in notice["reason"]


async def test_revoked_agent_gets_401_from_the_next_message(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    settings = gateway_settings(redis_url, tmp_path)
    async with GatewayService(settings) as gateway:
        await patient.send("doctor", "consultation.request", {"n": 1})
        await idle(gateway)
    await patient.send("doctor", "consultation.request", {"n": 2})  # still in its outbox
    await revoke_agent(redis_client, "patient")
    with pytest.raises((AuthenticationError, ConnectionError)):  # Redis refuses the user
        await patient.send("doctor", "consultation.request", {"n": 3})
    async with GatewayService(settings) as gateway:
        await idle(gateway)
        delivered = await deliveries(redis_client, gateway, "doctor")
    assert [d.envelope.data["n"] for d in delivered] == [1]
    assert gateway.counts["unauthenticated"] == 1


async def test_rotated_token_replaces_the_old_one(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    old_token = patient.token
    patient.token, password = await rotate_credentials(redis_client, "patient")
    patient.client = connect_as(redis_client, "agent.patient", password)
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.send("doctor", "consultation.request", {"with": "new"})
        fields = sign_submission(
            patient.envelope("doctor", "consultation.request", {"with": "old"}),
            patient.key,
            old_token,
        )
        await patient.submit_fields(fields)
        await idle(gateway)
        delivered = await deliveries(redis_client, gateway, "doctor")
    assert [d.envelope.data["with"] for d in delivered] == ["new"]


async def test_self_registered_agent_needs_auto_provision(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    await redis_client.hset(keys.agent_trust("patient"), "provisioned_by", "auto")  # type: ignore[misc]
    settings = gateway_settings(redis_url, tmp_path, auto_provision=False)
    write_signing_key(settings.signing_key_path)
    async with GatewayService(settings) as gateway:
        await patient.send("doctor", "consultation.request", {})
        await idle(gateway)
        [notice] = await notices(redis_client, gateway, "patient")
    assert notice["code"] == 401
    assert "auto-provisioning" in notice["reason"]


async def test_unknown_sender_is_refused_and_nothing_is_created(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    ghost = await ProbeAgent.provision(redis_client, "ghost")
    await ProbeAgent.provision(redis_client, "doctor")
    await redis_client.delete(keys.agent_trust("ghost"), keys.agent_identity("ghost"))
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await ghost.send("doctor", "consultation.request", {})
        await idle(gateway)
    assert gateway.counts["unauthenticated"] == 1
    assert await redis_client.xlen(keys.agent_stream("ghost")) == 0  # no notice is written


async def test_corrupt_registered_key_is_refused_not_crashed(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    await redis_client.hset(keys.agent_identity("patient"), "public_key", "not-a-key")  # type: ignore[misc]
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        await patient.send("doctor", "consultation.request", {})
        await patient.send("doctor", "consultation.request", {})
        await idle(gateway)
        assert await deliveries(redis_client, gateway, "doctor") == []
    assert gateway.counts["unauthenticated"] == 2


async def test_replay_window_refuses_non_finite_timestamps_that_bypass_parsing(
    redis_client: aioredis.Redis,
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    stage = AuthenticationStage(redis_client, replay_window_s=300, auto_provision=False)
    for n, value in enumerate([float("nan"), float("inf"), float("-inf")]):
        # The parser never builds such an envelope; the window check must not rely on it.
        envelope = Envelope(sender_id="patient", target_id="doctor", message_type="t")
        envelope = envelope.model_copy(update={"timestamp": value})  # not validated
        raw = dumps({"probe": n})
        ctx = MessageContext(
            entry_id=f"1-{n}",
            fields={
                "envelope": raw,
                "signature": crypto.sign(patient.key, raw).encode(),
                "token": patient.token.encode(),
            },
            origin="patient",
            raw_envelope=raw,
            envelope=envelope,
        )
        await run_stages(stage, [ctx])
        assert isinstance(ctx.rejection, Unauthenticated)
        assert "not a finite number" in ctx.rejection.reason
