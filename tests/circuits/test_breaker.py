"""Circuit breakers end to end: trip, park in order, probe, release once, audit, notices."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, keys
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.cli import main
from mas_gateway.compliance.stats import audit_fields

from ..auditlog import audit_xrange
from ..polling import wait_until
from ..sdk.conftest import FAST
from .conftest import keeper, parked, poll_until, state

N = 1000

FLAKY = """\
targets:
  responder:
    consecutive_failures: 1
    open_s: 0.2
    half_open_probes: 2
    release_batch: 250
"""


class Flaky(Agent):
    """A target whose handler raises while `broken`; records what it handled, in order."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.broken = True
        self.handled: list[int] = []

    @Agent.on("note")
    async def note(self, message: AgentMessage, payload: None) -> None:
        if self.broken:
            raise RuntimeError("the handler is down")
        self.handled.append(int(message.data["n"]))

    @Agent.on("question.ask")
    async def ask(self, message: AgentMessage, payload: None) -> None:
        await message.reply("question.answer", {"ok": True})


class Asker(Agent):
    """A sender; keeps every rejection notice it is told about."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.notices: list[AgentMessage] = []

    async def on_rejected(self, notice: AgentMessage) -> None:
        self.notices.append(notice)


async def audited(admin: aioredis.Redis) -> list[dict[str, Any]]:
    entries = [parse_entry(f[b"entry"]) for _, f in await audit_xrange(admin)]
    return [entry for entry in entries if entry is not None]


async def trip(gateway: GatewayService, admin: aioredis.Redis, asker: Asker) -> None:
    """Send one message the broken handler fails on; poll until the circuit is open."""

    async def is_open() -> bool:
        return await state(admin, "responder") == "open"

    await asker.send("responder", "note", {"n": -1})
    await poll_until(gateway, is_open, "the circuit of responder to open")


@pytest.mark.parametrize("circuits_yaml", [FLAKY], ids=["flaky"])
@pytest.mark.slow
async def test_a_failing_target_gets_1000_parked_messages_once_each_in_order(
    gateway: GatewayService, redis_client: aioredis.Redis
) -> None:
    admin = redis_client
    async with (
        Flaky("responder", concurrency=1, **FAST) as responder,
        Asker("asker", **FAST) as asker,
    ):
        await trip(gateway, admin, asker)
        assert (await admin.hgetall(keys.circuit("responder")))[b"reason"] == (
            b"1 consecutive failed deliveries"
        )
        responder.broken = False  # the handler recovers; the circuit stays open until polled
        for n in range(N):
            await asker.send("responder", "note", {"n": n})

        async def all_parked() -> bool:
            return await parked(admin, "responder") == N

        await wait_until(all_parked, 120, f"{N} messages to be parked")

        async def drained() -> bool:
            return await state(admin, "responder") == "closed" and not await parked(
                admin, "responder"
            )

        await poll_until(gateway, drained, "the circuit to close and the queue to drain", 60)

        async def handled() -> bool:
            return len(responder.handled) == N + 1

        await wait_until(handled, 120, "every message to be handled")
        await responder.wait_idle()
    assert [n for n in responder.handled if n >= 0] == list(range(N))  # in order, once each
    assert responder.handled.count(-1) == 1  # the message it failed on, handled on a retry
    assert asker.notices == []
    decisions = [e["decision"] for e in await audited(admin) if e["target"] == "responder"]
    assert decisions.count("parked") == N and decisions.count("released") == N
    circuit = await admin.hgetall(keys.circuit("responder"))
    assert circuit[b"released"] == str(N).encode() and circuit[b"trips"] == b"1"


@pytest.mark.parametrize("circuits_yaml", [FLAKY], ids=["flaky"])
async def test_the_sender_is_told_its_message_is_parked_and_its_request_still_succeeds(
    gateway: GatewayService,
    redis_client: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    admin = redis_client
    async with Flaky("responder", **FAST) as responder, Asker("asker", **FAST) as asker:
        await trip(gateway, admin, asker)
        responder.broken = False
        request = asyncio.create_task(
            asker.request("responder", "question.ask", {"text": "s3cret-words"}, timeout=60)
        )

        async def told() -> bool:
            return any("is parked until the target" in r.message for r in caplog.records)

        await wait_until(told, 30, "the parked notice to reach the sender")
        assert not request.done()  # a notice, not an answer: the request keeps waiting
        [line] = [r.message for r in caplog.records if "is parked until" in r.message]
        assert "to responder" in line and "the circuit of responder is open" in line

        async def closed() -> bool:
            return await state(admin, "responder") == "closed" and not await parked(
                admin, "responder"
            )

        await poll_until(gateway, closed, "the circuit to close")
        reply = await request
    assert reply.data == {"ok": True}
    assert asker.notices == []  # on_rejected never saw the notice
    assert not any("s3cret-words" in r.getMessage() for r in caplog.records)
    assert all("s3cret-words" not in json.dumps(e) for e in await audited(admin))


LIVENESS = """\
targets:
  responder:
    require_live: true
    open_s: 0.05
"""


@pytest.mark.parametrize(("circuits_yaml", "circuit_poll_s"), [(LIVENESS, 0.05)], ids=["live"])
async def test_a_target_without_a_live_instance_gets_its_messages_when_it_starts(
    gateway: GatewayService, redis_client: aioredis.Redis
) -> None:
    """This one runs the gateway's own loop, as in production: the test only waits."""
    admin = redis_client
    async with Flaky("responder", **FAST):
        pass  # provisioned, then stopped: no live instance
    async with Asker("asker", **FAST) as asker:

        async def is_open() -> bool:
            return await state(admin, "responder") == "open"

        await wait_until(is_open, 30, "the circuit to open")
        reason = (await admin.hgetall(keys.circuit("responder")))[b"reason"]
        assert reason == b"no live instance"
        for n in range(5):
            await asker.send("responder", "note", {"n": n})

        async def all_parked() -> bool:
            return await parked(admin, "responder") == 5

        await wait_until(all_parked, 30, "5 messages to be parked")
        assert not await admin.xlen(keys.agent_stream("responder"))
        async with Flaky("responder", concurrency=1, **FAST) as responder:
            responder.broken = False

            async def handled() -> bool:
                return len(responder.handled) == 5

            await wait_until(handled, 30, "the started target to get its messages")

            async def closed() -> bool:
                return await state(admin, "responder") == "closed"

            await wait_until(closed, 30, "the circuit to close")
    assert responder.handled == [0, 1, 2, 3, 4]


BACKLOG = """\
targets:
  responder:
    max_backlog: 2
    open_s: 3600
"""


@pytest.mark.parametrize("circuits_yaml", [BACKLOG], ids=["backlog"])
async def test_an_inbox_over_its_backlog_opens_the_circuit_and_mas_circuit_list_shows_it(
    gateway: GatewayService,
    redis_client: aioredis.Redis,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    admin = redis_client
    async with Flaky("responder", **FAST):
        pass  # stopped: its inbox fills up (liveness is not a trip condition here)
    async with Asker("asker", **FAST) as asker:
        for n in range(3):
            await asker.send("responder", "note", {"n": n})

        async def backlog() -> bool:
            return await admin.xlen(keys.agent_stream("responder")) == 3

        await wait_until(backlog, 30, "3 messages in the inbox")

        async def is_open() -> bool:
            return await state(admin, "responder") == "open"

        await poll_until(gateway, is_open, "the circuit to open")
        await asker.send("responder", "note", {"n": 3})

        async def one_parked() -> bool:
            return await parked(admin, "responder") == 1

        await wait_until(one_parked, 30, "the next message to be parked")
    listing = ["circuit", "list", "--json", "--redis-url", redis_url]
    assert await asyncio.to_thread(main, listing) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["agent_id"] == "responder" and shown["state"] == "open"
    assert shown["reason"] == "inbox backlog 3 over its limit 2"
    assert shown["parked"] == 1 and shown["trips"] == 1
    assert await asyncio.to_thread(main, ["circuit", "list", "--redis-url", redis_url]) == 0
    text = capsys.readouterr().out
    assert text.startswith("responder  open for") and "parked 1)" in text


def test_released_entries_have_the_fields_of_every_entry() -> None:
    from mas_gateway.audit.entry import build_released_entry

    delivered = {
        "message_id": "m1",
        "sender_id": "asker",
        "target_id": "responder",
        "message_type": "note",
        "correlation_id": None,
        "gateway": {"redacted_paths": ["a.b"]},
    }
    entry = json.loads(
        build_released_entry(
            delivered,
            {"ingress_id": "1-1", "parked_at": 1.0, "payload_sha256": "ab"},
            gateway_id="g",
            key_id="k",
            policy_version="v",
            now=3.0,
        )
    )
    top, dlp = audit_fields()
    assert set(entry) == top and set(entry["dlp"]) == dlp
    assert entry["decision"] == "released" and entry["code"] == 200
    assert entry["latency_ms"] == 2000.0 and entry["dlp"]["redacted_paths"] == ["a.b"]


async def test_keeper_is_present_only_with_the_circuit_stage(sdk_env: str, tmp_path: Any) -> None:
    from .conftest import circuit_settings

    stages = ["parse", "authn", "authz", "target", "ratelimit", "dlp"]
    async with GatewayService(circuit_settings(sdk_env, tmp_path, None, stages=stages)) as gw:
        assert gw.circuits is None
    _ = keeper
