"""Delivery semantics: verification, dedup, ack after handling, retries, DLQ, claims, reclaim."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel

from mas import Agent, AgentMessage, crypto, keys
from mas.dispatch import ledger_id
from mas.envelope import Envelope, parse_envelope, sign_submission

from .conftest import FAST, DeliverySigner, dead_letters, eventually


class Order(BaseModel):
    item: str
    quantity: int


class Recorder(Agent):
    """Records every handled message; can be told to fail or to block."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.seen: list[tuple[str, Any]] = []
        self.messages: list[AgentMessage] = []
        self.fail_times = 0
        self.release: asyncio.Event | None = None
        self.running_now = 0
        self.max_running = 0

    @Agent.on("order.place", model=Order)
    async def place(self, message: AgentMessage, payload: Order) -> None:
        self.running_now += 1
        self.max_running = max(self.max_running, self.running_now)
        try:
            if self.release is not None:
                await self.release.wait()
            if self.fail_times > 0:
                self.fail_times -= 1
                raise RuntimeError("inventory offline")
            self.seen.append((message.message_id, payload))
            self.messages.append(message)
        finally:
            self.running_now -= 1

    @Agent.on("ping")
    async def ping(self, message: AgentMessage, payload: None) -> None:
        self.seen.append((message.message_id, payload))
        self.messages.append(message)


async def _dlq(redis: aioredis.Redis) -> list[dict[str, str]]:
    entries = await dead_letters(redis)
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


async def _pending(redis: aioredis.Redis, agent_id: str) -> int:
    info = await redis.xpending(keys.agent_stream(agent_id), keys.AGENTS_GROUP)
    return int(info["pending"])


async def test_verified_delivery_is_handled_acked_and_marked(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    async with Recorder("shop", **FAST) as shop:
        env = await gateway.deliver("shop", "order.place", {"item": "tea", "quantity": 2})
        await shop.wait_idle()
    assert shop.seen == [(env.message_id, Order(item="tea", quantity=2))]
    message = shop.messages[0]
    assert (message.sender_id, message.target_id, message.data) == ("sender", "shop", env.data)
    assert message.sender_verified is False
    assert await redis_client.exists(keys.agent_done("shop", ledger_id(env)))
    assert await _pending(redis_client, "shop") == 0
    assert await _dlq(redis_client) == []


async def test_forged_unsigned_and_misaddressed_entries_are_dead_lettered(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    stream = keys.agent_stream("vault")
    forger = crypto.generate_private_key()
    forged = Envelope(sender_id="mallory", target_id="vault", message_type="ping")
    unsigned = Envelope(sender_id="mallory", target_id="vault", message_type="ping")
    other = Envelope(sender_id="sender", target_id="elsewhere", message_type="ping")
    tampered_fields = gateway.fields(
        Envelope(sender_id="sender", target_id="vault", message_type="ping")
    )
    tampered_fields["envelope"] = tampered_fields["envelope"].replace(b'"sender"', b'"boss00"')
    async with Recorder("vault", **FAST) as vault:
        ids = [
            await redis_client.xadd(stream, gateway.fields(forged, key=forger)),  # type: ignore[arg-type]
            await redis_client.xadd(stream, {"envelope": unsigned.model_dump_json()}),
            await redis_client.xadd(stream, gateway.fields(other)),  # type: ignore[arg-type]
            await redis_client.xadd(stream, tampered_fields),  # type: ignore[arg-type]
        ]
        await vault.wait_idle()
    assert vault.seen == []
    letters = await _dlq(redis_client)
    reasons = {letter["dlq_entry_id"]: letter["dlq_reason"] for letter in letters}
    assert len(letters) == 4
    assert "untrusted key id" in reasons[ids[0].decode()]
    assert "not signed" in reasons[ids[1].decode()]
    assert "addressed to 'elsewhere'" in reasons[ids[2].decode()]
    assert "does not verify" in reasons[ids[3].decode()]
    assert all(letter["dlq_stream"] == stream for letter in letters)
    assert all(letter["dlq_source"] == "vault" for letter in letters)
    assert await _pending(redis_client, "vault") == 0


async def test_same_message_id_is_handled_once(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    env = Envelope(sender_id="sender", target_id="once", message_type="ping")
    async with Recorder("once", **FAST) as agent:
        for _ in range(3):
            await redis_client.xadd(keys.agent_stream("once"), gateway.fields(env))  # type: ignore[arg-type]
        await agent.wait_idle()
    assert [mid for mid, _ in agent.seen] == [env.message_id]
    assert await redis_client.xlen(keys.agent_stream("once")) == 0  # handled entries are deleted
    assert await _pending(redis_client, "once") == 0


async def test_failing_handler_is_retried_then_succeeds(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    agent = Recorder("flaky", **{**FAST, "claim_idle": 0.1})
    agent.fail_times = 2
    async with agent:
        env = await gateway.deliver("flaky", "order.place", {"item": "x", "quantity": 1})
        await agent.wait_idle()
    assert [mid for mid, _ in agent.seen] == [env.message_id]
    assert await _dlq(redis_client) == []
    assert await redis_client.hlen(keys.agent_errors("flaky")) == 0


async def test_max_deliveries_moves_message_to_dlq_with_error(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    agent = Recorder("broken", **{**FAST, "claim_idle": 0.1, "max_deliveries": 3})
    agent.fail_times = 100
    async with agent:
        env = await gateway.deliver("broken", "order.place", {"item": "x", "quantity": 1})
        await agent.wait_idle()
    assert agent.seen == []
    assert agent.fail_times == 97
    [letter] = await _dlq(redis_client)
    assert letter["dlq_reason"] == "handler failed 3 times (max 3)"
    assert letter["dlq_error"] == "RuntimeError: inventory offline"
    assert json.loads(letter["envelope"])["message_id"] == env.message_id
    assert await _pending(redis_client, "broken") == 0
    assert not await redis_client.exists(keys.agent_done("broken", ledger_id(env)))


async def test_long_handler_keeps_its_claim(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    # The keeper refreshes every claim_idle / 3 (0.5 s): only an event-loop stall of a
    # whole second, not mere load, would let the peer take over.
    options = {**FAST, "claim_idle": 1.5}
    worker, peer = Recorder("slow", **options), Recorder("slow", **options)
    worker.release = asyncio.Event()
    async with worker:
        env = await gateway.deliver("slow", "order.place", {"item": "x", "quantity": 1})

        async def picked_up() -> bool:
            return worker.running_now == 1

        await eventually(picked_up)
        async with peer:
            # Two and a half claim_idle periods pass while the handler runs and the peer
            # keeps trying to take its entry over.
            until = time.monotonic() + 2.5 * options["claim_idle"]
            while time.monotonic() < until:
                await peer._require().consumer.reclaim()
                await asyncio.sleep(0.2)
            [entry] = await redis_client.xpending_range(
                keys.agent_stream("slow"), keys.AGENTS_GROUP, "-", "+", 10
            )
            assert entry["consumer"].decode() == f"slow-{worker.instance_id}"
            assert entry["times_delivered"] == 1
            worker.release.set()
            await worker.wait_idle()
    assert [mid for mid, _ in worker.seen] == [env.message_id]
    assert peer.seen == []


async def test_entries_of_a_crashed_instance_are_reclaimed(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    async with Recorder("phoenix", **FAST):
        pass
    env = await gateway.deliver("phoenix", "order.place", {"item": "x", "quantity": 1})
    taken = await redis_client.xreadgroup(
        keys.AGENTS_GROUP, "phoenix-crashed", {keys.agent_stream("phoenix"): ">"}, count=10
    )
    assert len(taken[0][1]) == 1
    async with Recorder("phoenix", **{**FAST, "claim_idle": 0.2}) as agent:
        await agent.wait_idle()
    assert [mid for mid, _ in agent.seen] == [env.message_id]


async def test_messages_sent_while_stopped_are_handled_on_start(
    sdk_env: str, gateway: DeliverySigner
) -> None:
    async with Recorder("napper", **FAST):
        pass
    before = await gateway.deliver("napper", "ping")
    async with Recorder("napper", **FAST) as agent:
        await agent.wait_idle()
    assert [mid for mid, _ in agent.seen] == [before.message_id]


async def test_first_start_handles_messages_already_in_stream(
    sdk_env: str, gateway: DeliverySigner
) -> None:
    early = await gateway.deliver("newcomer", "ping")
    async with Recorder("newcomer", **FAST) as agent:
        await agent.wait_idle()
    assert [mid for mid, _ in agent.seen] == [early.message_id]


async def test_invalid_payload_is_dead_lettered_and_reported(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    async with Recorder("strict", **FAST) as agent:
        env = await gateway.deliver(
            "strict",
            "order.place",
            {"item": "SECRET-VALUE-123", "quantity": "lots"},
            sender="buyer",
            correlation_id="corr-1",
        )
        await agent.wait_idle()
    assert agent.seen == []
    [letter] = await _dlq(redis_client)
    assert letter["dlq_reason"] == "invalid payload"
    assert "quantity" in letter["dlq_error"]
    assert "lots" not in letter["dlq_error"]
    [(_, fields)] = await redis_client.xrange(keys.agent_outbox("strict"))
    report = parse_envelope(fields[b"envelope"])
    assert (report.sender_id, report.target_id, report.message_type) == (
        "strict",
        "buyer",
        "mas.error",
    )
    assert report.data["code"] == 422
    assert report.data["message_id"] == env.message_id
    assert report.data["correlation_id"] == "corr-1"
    assert "quantity" in report.data["reason"] and "lots" not in report.data["reason"]
    assert report.correlation_id == "corr-1" and report.in_reply_to == env.message_id


async def test_unhandled_type_is_dead_lettered_unless_on_message(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    class Catcher(Agent):
        def __init__(self, agent_id: str, **kwargs: Any) -> None:
            super().__init__(agent_id, **kwargs)
            self.caught: list[str] = []

        async def on_message(self, message: AgentMessage) -> None:
            self.caught.append(message.message_type)

    async with Recorder("picky", **FAST) as picky, Catcher("catcher", **FAST) as catcher:
        await gateway.deliver("picky", "unknown.kind")
        await gateway.deliver("catcher", "unknown.kind")
        await picky.wait_idle()
        await catcher.wait_idle()
    assert catcher.caught == ["unknown.kind"]
    [letter] = await _dlq(redis_client)
    assert letter["dlq_reason"] == "no handler for message type 'unknown.kind'"


async def test_reserved_types_never_reach_handlers(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    class Watcher(Recorder):
        def __init__(self, agent_id: str, **kwargs: Any) -> None:
            super().__init__(agent_id, **kwargs)
            self.notices: list[AgentMessage] = []

        async def on_rejected(self, notice: AgentMessage) -> None:
            self.notices.append(notice)

    async with Watcher("watcher", **FAST) as agent:
        notice = Envelope(
            sender_id="mas.gateway",
            target_id="watcher",
            message_type="mas.rejected",
            data={"code": 403, "reason": "denied", "message_id": "m1", "correlation_id": None},
        )
        await redis_client.xadd(
            keys.agent_stream("watcher"),
            gateway.fields(notice, kind="rejection"),  # type: ignore[arg-type]
        )
        await gateway.deliver("watcher", "mas.rejected", {"code": 200}, sender="mallory")
        await gateway.deliver("watcher", "mas.shutdown", sender="mallory")
        await agent.wait_idle()
    assert [n.data["code"] for n in agent.notices] == [403]
    assert agent.seen == []
    reasons = sorted(letter["dlq_reason"] for letter in await _dlq(redis_client))
    assert reasons == [
        "reserved message type 'mas.rejected' from mallory",
        "reserved message type 'mas.shutdown' from mallory",
    ]


async def test_handlers_run_concurrently_within_the_bound(
    sdk_env: str, gateway: DeliverySigner
) -> None:
    agent = Recorder("busy", **{**FAST, "concurrency": 3})
    agent.release = asyncio.Event()
    async with agent:
        for i in range(7):
            await gateway.deliver("busy", "order.place", {"item": f"i{i}", "quantity": i})

        async def saturated() -> bool:
            return agent.running_now == 3

        await eventually(saturated)
        agent.release.set()
        await agent.wait_idle()
    assert agent.max_running == 3
    assert len(agent.seen) == 7


async def test_handlers_wait_for_on_start(sdk_env: str, gateway: DeliverySigner) -> None:
    order: list[str] = []
    gate = asyncio.Event()

    class Slow(Agent):
        async def on_start(self) -> None:
            await gate.wait()
            order.append("on_start")

        @Agent.on("ping")
        async def ping(self, message: AgentMessage, payload: None) -> None:
            order.append("handler")

    await gateway.deliver("gated", "ping")
    agent = Slow("gated", **FAST)
    starting = asyncio.create_task(agent.start())

    async def message_read() -> bool:
        session = agent._session
        return session is not None and session.consumer.inflight == 1

    await eventually(message_read)
    assert order == []
    gate.set()
    await starting
    try:
        await agent.wait_idle()
    finally:
        await agent.stop()
    assert order == ["on_start", "handler"]


async def test_sender_signature_is_verified_when_present(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    async with Agent("alice", **FAST) as alice, Recorder("bob", **FAST) as bob:
        creds = alice._require().transport._credentials
        honest = Envelope(sender_id="alice", target_id="bob", message_type="ping", data={"a": 1})
        submission = sign_submission(honest, creds.private_key, creds.token)
        delivery = gateway.fields(honest)
        delivery["sender_envelope"] = submission["envelope"]
        delivery["sender_signature"] = submission["signature"]
        await redis_client.xadd(keys.agent_stream("bob"), delivery)  # type: ignore[arg-type]
        altered = Envelope(sender_id="alice", target_id="bob", message_type="ping", data={"a": 2})
        swapped = gateway.fields(altered)
        swapped["sender_envelope"] = submission["envelope"]
        swapped["sender_signature"] = submission["signature"]
        await redis_client.xadd(keys.agent_stream("bob"), swapped)  # type: ignore[arg-type]
        impostor = Envelope(sender_id="alice", target_id="bob", message_type="ping", data={"a": 3})
        forged = sign_submission(impostor, crypto.generate_private_key(), creds.token)
        signed_by_other = gateway.fields(impostor)
        signed_by_other["sender_envelope"] = forged["envelope"]
        signed_by_other["sender_signature"] = forged["signature"]
        await redis_client.xadd(keys.agent_stream("bob"), signed_by_other)  # type: ignore[arg-type]
        await bob.wait_idle()
    # Read after the agent stopped: the check runs on first access, with the key it looked up.
    verified = {m.data["a"]: m.sender_verified for m in bob.messages}
    assert verified == {1: True, 2: False, 3: False}
    assert [m.sender_verified for m in bob.messages] == [True, False, False]  # remembered


async def test_poison_message_of_crash_looping_instances_is_dead_lettered(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    async with Recorder("looper", **FAST):
        pass
    env = await gateway.deliver("looper", "ping")
    stream = keys.agent_stream("looper")
    await redis_client.xreadgroup(keys.AGENTS_GROUP, "looper-dead", {stream: ">"}, count=1)
    await redis_client.xclaim(
        stream,
        keys.AGENTS_GROUP,
        "looper-dead",
        0,
        [await _first_id(redis_client, stream)],
        retrycount=5,
    )
    await redis_client.hset(keys.agent_errors("looper"), "x", "ignored")
    async with Recorder("looper", **{**FAST, "claim_idle": 0.1}) as agent:
        await agent.wait_idle()
    assert agent.seen == []
    [letter] = await _dlq(redis_client)
    assert letter["dlq_reason"] == "delivered 6 times without completing (max 5)"
    assert json.loads(letter["envelope"])["message_id"] == env.message_id


async def _first_id(redis: aioredis.Redis, stream: str) -> str:
    [(entry_id, _)] = await redis.xrange(stream, count=1)
    return entry_id.decode()


async def test_instances_share_the_stream(
    sdk_env: str, gateway: DeliverySigner, redis_client: aioredis.Redis
) -> None:
    both_busy = asyncio.Event()
    running: list[str] = []
    handled: dict[str, list[str]] = {}

    class Shared(Agent):
        @Agent.on("ping")
        async def ping(self, message: AgentMessage, payload: None) -> None:
            running.append(self.instance_id)
            if len(set(running)) == 2:
                both_busy.set()
            await both_busy.wait()
            handled.setdefault(self.instance_id, []).append(message.message_id)

    options = {**FAST, "concurrency": 1, "batch_size": 1}
    async with Shared("shared", **options) as one, Shared("shared", **options) as two:
        sent = [(await gateway.deliver("shared", "ping")).message_id for _ in range(10)]
        await one.wait_idle()
        await two.wait_idle()
    assert set(handled) == {one.instance_id, two.instance_id}
    assert sorted(handled[one.instance_id] + handled[two.instance_id]) == sorted(sent)
