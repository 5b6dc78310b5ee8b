"""Half-open probing, release by two gateways at once, and the audit of parking and releasing.

The target is a provisioned agent whose inbox the test reads; it reports its own
health counters with its own Redis user, as the SDK's ledger does.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.cli import main

from ..auditlog import audit_xrange
from ..gateway.helpers import REPO_POLICIES, ProbeAgent, deliveries, gateway_settings, idle
from ..polling import wait_until
from .conftest import MANUAL, keeper, parked, poll_until, state

PROBING = """\
targets:
  specialist:
    consecutive_failures: 1
    open_s: 0.01
    half_open_probes: 2
    release_batch: 7
"""


def policies_with(tmp_path: Path, circuits: str) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, target)
    (target / "circuits.yaml").write_text(circuits, encoding="utf-8")
    return target


@pytest.fixture
async def world(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[GatewayService, ProbeAgent, ProbeAgent]]:
    doctor = await ProbeAgent.provision(redis_client, "doctor")
    specialist = await ProbeAgent.provision(redis_client, "specialist")
    settings = gateway_settings(
        redis_url,
        tmp_path,
        policies_dir=policies_with(tmp_path, PROBING),
        policy_poll_s=None,
        circuit_poll_s=MANUAL,
    )
    async with GatewayService(settings) as gateway:
        yield gateway, doctor, specialist


async def report(agent: ProbeAgent, outcome: str, count: int = 1) -> None:
    """The target reports handler outcomes about itself, with its own Redis user."""
    await agent.client.hincrby(keys.agent_health(agent.agent_id), outcome, count)  # type: ignore[misc]


async def inbox_numbers(admin: aioredis.Redis, gateway: GatewayService) -> list[int]:
    return [int(d.envelope.data["n"]) for d in await deliveries(admin, gateway, "specialist")]


async def send(doctor: ProbeAgent, numbers: range) -> list[str]:
    return [await doctor.send("specialist", "referral.request", {"n": n}) for n in numbers]


async def test_half_open_releases_its_probes_only_and_reopens_when_one_fails(
    world: tuple[GatewayService, ProbeAgent, ProbeAgent], redis_client: aioredis.Redis
) -> None:
    gateway, doctor, specialist = world
    admin = redis_client
    await report(specialist, "failed")

    async def is_open() -> bool:
        return await state(admin, "specialist") == "open"

    await poll_until(gateway, is_open, "the circuit to open")
    await send(doctor, range(10))
    await idle(gateway)
    assert await parked(admin, "specialist") == 10

    async def half_open() -> bool:
        return await state(admin, "specialist") == "half_open"

    await poll_until(gateway, half_open, "the circuit to be half-open")
    await keeper(gateway).poll()  # probes are not yet answered: nothing more moves
    assert await inbox_numbers(admin, gateway) == [0, 1]
    assert await parked(admin, "specialist") == 8

    await report(specialist, "failed")  # a probe fails
    await keeper(gateway).poll()
    assert await state(admin, "specialist") == "open"
    assert (await admin.hgetall(keys.circuit("specialist")))[b"trips"] == b"2"

    await poll_until(gateway, half_open, "the circuit to be half-open again")
    assert await inbox_numbers(admin, gateway) == [0, 1, 2, 3]  # two new probes, in order
    await report(specialist, "ok", 2)

    async def drained() -> bool:
        return await state(admin, "specialist") == "closed" and not await parked(
            admin, "specialist"
        )

    await poll_until(gateway, drained, "the circuit to close and drain")
    await send(doctor, range(10, 12))  # closed and empty: delivered at once
    await idle(gateway)
    assert await inbox_numbers(admin, gateway) == list(range(12))


async def test_a_message_waits_behind_parked_ones_even_when_the_circuit_is_closed(
    world: tuple[GatewayService, ProbeAgent, ProbeAgent], redis_client: aioredis.Redis
) -> None:
    """The commit script parks it: the parked queue and the inbox share the target's slot."""
    gateway, doctor, _specialist = world
    admin = redis_client
    await admin.hset(keys.circuit("specialist"), "state", "open")  # as a keeper would
    await send(doctor, range(3))
    await idle(gateway)
    await admin.hset(keys.circuit("specialist"), "state", "closed")  # not drained yet
    await send(doctor, range(3, 5))
    await idle(gateway)
    assert await parked(admin, "specialist") == 5
    assert await deliveries(admin, gateway, "specialist") == []
    notices = [
        d.envelope.data
        for d in await deliveries(admin, gateway, "doctor")
        if d.envelope.message_type == "mas.parked"
    ]
    assert len(notices) == 5 and notices[-1]["reason"] == (
        "messages to specialist are parked; this one waits behind them"
    )
    assert set(notices[0]) == {"message_id", "target", "reason", "correlation_id"}


async def test_two_gateways_releasing_at_once_move_each_entry_once_in_order(
    world: tuple[GatewayService, ProbeAgent, ProbeAgent],
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
) -> None:
    gateway, doctor, _specialist = world
    admin = redis_client
    await admin.hset(keys.circuit("specialist"), "state", "open")
    sent = await send(doctor, range(150))  # within the clinician burst
    await idle(gateway)
    assert await parked(admin, "specialist") == 150
    await admin.hset(keys.circuit("specialist"), "state", "closed")
    (tmp_path / "other").mkdir()
    other_settings = gateway_settings(
        redis_url,
        tmp_path / "other",
        policies_dir=tmp_path / "policies",
        policy_poll_s=None,
        circuit_poll_s=MANUAL,
        signing_key_path=tmp_path / "gateway.key",
        gateway_id="other-gateway",
        audit_witness_path=tmp_path / "other" / "witness.json",
    )
    async with GatewayService(other_settings) as other:
        assert other.policy is not None and gateway.policy is not None

        async def release(service: GatewayService) -> int:
            assert service.policy is not None
            return await keeper(service).release(
                "specialist", 7, probes=0, policy=service.policy.current
            )

        async def drain(service: GatewayService) -> int:
            moved = 0
            while await parked(admin, "specialist"):
                moved += await release(service)
            return moved

        # Which drainer wins each concurrent round is the scheduler's call (on a loaded
        # machine one gateway's drainers may move all of them): each gateway first
        # releases a chunk of its own, then four drainers race for the rest.
        first = [await release(gateway), await release(other)]
        counts = await asyncio.gather(*(drain(g) for g in (gateway, other, gateway, other)))
    assert first == [7, 7]
    assert sum(counts) == 136 and sum(1 for c in counts if c) >= 2  # drainers raced
    delivered = await deliveries(admin, gateway, "specialist")
    assert [d.envelope.message_id for d in delivered] == sent  # each once, in order
    entries = [parse_entry(f[b"entry"]) for _, f in await audit_xrange(admin)]
    released = [e["message_id"] for e in entries if e is not None and e["decision"] == "released"]
    assert released == sent
    assert {e["gateway_id"] for e in entries if e is not None and e["decision"] == "released"} == {
        gateway.settings.gateway_id,
        "other-gateway",
    }


async def test_parked_and_released_entries_verify_with_mas_audit_verify(
    world: tuple[GatewayService, ProbeAgent, ProbeAgent],
    redis_client: aioredis.Redis,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway, doctor, specialist = world
    admin = redis_client
    await report(specialist, "failed")

    async def is_open() -> bool:
        return await state(admin, "specialist") == "open"

    await poll_until(gateway, is_open, "the circuit to open")
    mids = await send(doctor, range(4))
    await idle(gateway)

    async def half_open() -> bool:
        return await state(admin, "specialist") == "half_open"

    await poll_until(gateway, half_open, "the circuit to be half-open")
    await report(specialist, "ok", 2)  # the two probes were handled

    async def drained() -> bool:
        return not await parked(admin, "specialist")

    await poll_until(gateway, drained, "the parked messages to be released")
    entries = [parse_entry(f[b"entry"]) for _, f in await audit_xrange(admin)]
    by_decision = {
        d: [e for e in entries if e is not None and e["decision"] == d]
        for d in ("parked", "released")
    }
    assert [e["message_id"] for e in by_decision["parked"]] == mids
    assert [e["message_id"] for e in by_decision["released"]] == mids
    for was, now in zip(by_decision["parked"], by_decision["released"], strict=True):
        assert now["envelope_sha256"] == was["envelope_sha256"]
        assert now["payload_sha256"] == was["payload_sha256"]
        assert now["ingress_id"] == was["ingress_id"] and now["code"] == 200
    assert gateway.checkpointer is not None
    await gateway.checkpointer.checkpoint_now()

    async def verified() -> bool:
        return await asyncio.to_thread(main, ["audit", "verify", "--redis-url", redis_url]) == 0

    await wait_until(verified, 30, "mas audit verify to pass")
    assert "OK: audit log of shard" in capsys.readouterr().out
