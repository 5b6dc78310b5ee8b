"""Redis outages provoked for real: submissions, acknowledgements and loops come through."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, keys
from mas.outage import Outage, ReplicasBehind
from mas_gateway import GatewayService

from ..polling import wait_until
from .conftest import settle
from .outages import OUTAGE_FAST, expect_log, logged, outages_logged, read_only, writes_paused


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mas")


class Receiver(Agent):
    """Counts what it handles; its handler can be held until the test lets it finish."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.handled: list[str] = []
        self.started = asyncio.Event()
        self.go = asyncio.Event()
        self.go.set()

    @Agent.on("note")
    async def note(self, message: AgentMessage, payload: None) -> None:
        self.handled.append(message.message_id)
        self.started.set()
        await self.go.wait()

    @Agent.on("question.ask")
    async def ask(self, message: AgentMessage, payload: None) -> None:
        self.handled.append(message.message_id)
        await message.reply("question.answer", {"echo": message.data.get("text")})


async def test_send_retries_through_paused_writes_and_is_handled_once(
    gateway_service: GatewayService, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        Receiver("responder", **OUTAGE_FAST) as responder,
        Agent("asker", **OUTAGE_FAST) as asker,
    ):
        async with writes_paused(redis_url):
            sending = asyncio.create_task(asker.send("responder", "note", message_id="order-1"))
            await wait_until(
                expect_log(caplog, "mas.transport", "submitting", "unavailable"),
                10,
                "the submission to time out",
            )
        assert await asyncio.wait_for(sending, 20) == "order-1"
        await settle(gateway_service, responder, asker)
    assert responder.handled == ["order-1"]
    assert logged(caplog, "mas.transport", "submitting", "unavailable") == 1
    assert logged(caplog, "mas.transport", "submitting", "reachable again") == 1


async def test_request_retries_through_a_read_only_replica(
    gateway_service: GatewayService, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        Receiver("responder", **OUTAGE_FAST) as responder,
        Agent("asker", **OUTAGE_FAST) as asker,
    ):
        async with read_only(redis_url):
            asking = asyncio.create_task(
                asker.request(
                    "responder", "question.ask", {"text": "hi"}, timeout=30, message_id="q-1"
                )
            )
            await wait_until(
                expect_log(caplog, "mas.transport", "ReadOnlyError"),
                10,
                "the submission to meet a read-only replica",
            )
        reply = await asyncio.wait_for(asking, 30)
    assert reply.data == {"echo": "hi"}
    assert reply.in_reply_to == "q-1"
    assert responder.handled == ["q-1"]
    # redis-py names a failed pipeline command with its arguments; the logs do not.
    assert not [r for r in caplog.records if "agent.pending:" in r.getMessage()]


async def test_acknowledgement_is_retried_and_the_handler_does_not_run_again(
    gateway_service: GatewayService,
    redis_url: str,
    redis_client: aioredis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with (
        Receiver("responder", **OUTAGE_FAST) as responder,
        Agent("asker", **OUTAGE_FAST) as asker,
    ):
        responder.go.clear()
        sent = await asker.send("responder", "note")
        await asyncio.wait_for(responder.started.wait(), 10)
        async with writes_paused(redis_url):
            responder.go.set()  # the handler returns; its acknowledgement times out
            await wait_until(
                expect_log(caplog, "mas.acks", "acknowledging", "unavailable"),
                10,
                "the acknowledgement to time out",
            )
        await responder.wait_idle(timeout=20)
    assert responder.handled == [sent]
    assert await redis_client.exists(keys.agent_done("responder", f"asker:{sent}"))
    assert logged(caplog, "mas.acks", "acknowledging", "unavailable") == 1
    assert logged(caplog, "mas.acks", "acknowledging", "reachable again") == 1


async def test_loops_survive_an_outage_and_log_it_once(
    gateway_service: GatewayService, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        Receiver("responder", **OUTAGE_FAST) as responder,
        Agent("asker", **OUTAGE_FAST) as asker,
    ):
        stream = keys.agent_stream("responder")
        async with writes_paused(redis_url):
            await wait_until(
                expect_log(caplog, "mas.consumer", f"reading {stream}", "unavailable"),
                10,
                "the read loop to time out",
            )
            await wait_until(
                expect_log(caplog, "mas.heartbeat", "responder", "unavailable"),
                10,
                "the heartbeat to time out",
            )
        await wait_until(
            expect_log(caplog, "mas.consumer", f"reading {stream}", "reachable again"),
            10,
            "the read loop to recover",
        )
        await wait_until(
            expect_log(caplog, "mas.heartbeat", "responder", "reachable again"),
            10,
            "the heartbeat to recover",
        )
        sent = await asker.send("responder", "note")
        await settle(gateway_service, responder, asker)
        assert responder.running and asker.running
    assert responder.handled == [sent]
    assert outages_logged(caplog, "mas.consumer", f"reading {stream}") >= 1
    assert outages_logged(caplog, "mas.heartbeat", "heartbeat of agent responder") >= 1


async def test_a_send_waits_for_replicas_and_raises_when_there_are_none(
    gateway_service: GatewayService,
) -> None:
    """`submit_replicas`: the single test server has no replica, so no send can return."""
    options = {**OUTAGE_FAST, "submit_replicas": 1, "replica_timeout_ms": 50, "submit_retry_s": 0.5}
    async with Agent("asker", **options) as asker:
        with pytest.raises(ReplicasBehind, match="0 of 1 replica"):
            await asker.send("responder", "note", message_id="order-1")


async def test_an_outage_is_logged_once_however_many_attempts_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("reading s", logging.getLogger("mas.consumer"), cap=0.0)
    for attempt in range(5):
        await outage.failed(TimeoutError(f"attempt {attempt}"))
    outage.recovered()
    outage.recovered()
    outage.note(ConnectionError("again"))
    outage.recovered()
    assert outages_logged(caplog, "mas.consumer", "reading s") == 2
    assert logged(caplog, "mas.consumer", "reading s", "attempt 0") == 1
    assert logged(caplog, "mas.consumer", "reading s", "attempt 1") == 0
