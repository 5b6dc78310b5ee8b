"""Messaging through a real gateway: send, request/reply, rejections, 422 reports, offline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from mas import (
    Agent,
    AgentMessage,
    Forbidden,
    InvalidPayload,
    RateLimited,
    TargetUnavailable,
    Unauthenticated,
    keys,
)
from mas_gateway import GatewayService, GatewaySettings
from mas_gateway.signing import write_signing_key

from ..principals import gateway_url
from .conftest import FAST, dead_letters, eventually, sdk_policies, settle


class Question(BaseModel):
    text: str
    urgency: int = 1


class Responder(Agent):
    """Answers questions; remembers what it saw."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.received: list[AgentMessage] = []

    @Agent.on("question.ask", model=Question)
    async def answer(self, message: AgentMessage, payload: Question) -> None:
        self.received.append(message)
        await message.reply("question.answer", {"echo": payload.text, "urgency": payload.urgency})

    @Agent.on("note")
    async def note(self, message: AgentMessage, payload: None) -> None:
        self.received.append(message)


class Asker(Agent):
    """Collects rejection notices and answers that arrive without a pending request."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.notices: list[AgentMessage] = []
        self.answers: list[AgentMessage] = []

    async def on_rejected(self, notice: AgentMessage) -> None:
        self.notices.append(notice)

    @Agent.on("question.answer")
    async def late_answer(self, message: AgentMessage, payload: None) -> None:
        self.answers.append(message)


async def test_request_reply_through_gateway(gateway_service: GatewayService) -> None:
    async with Responder("responder", **FAST) as responder, Asker("asker", **FAST) as asker:
        reply = await asker.request(
            "responder", "question.ask", {"text": "why?", "urgency": 3}, timeout=10
        )
    assert reply.message_type == "question.answer"
    assert reply.sender_id == "responder"
    assert reply.data == {"echo": "why?", "urgency": 3}
    assert reply.sender_verified is True
    [question] = responder.received
    assert reply.in_reply_to == question.message_id
    assert question.expects_reply and question.sender_verified
    assert asker.answers == []


async def test_send_delivers_and_reply_reaches_handler(gateway_service: GatewayService) -> None:
    async with Responder("responder", **FAST) as responder, Asker("asker", **FAST) as asker:
        message_id = await asker.send("responder", "question.ask", Question(text="hi"))
        await settle(gateway_service, responder, asker)
    assert [m.message_id for m in responder.received] == [message_id]
    [answer] = asker.answers
    assert answer.data == {"echo": "hi", "urgency": 1}
    assert answer.in_reply_to == message_id


async def test_denied_request_raises_forbidden_at_once(
    gateway_service: GatewayService,
) -> None:
    async with Agent("patient", **FAST) as patient, Agent("specialist", **FAST):
        async with asyncio.timeout(5):
            with pytest.raises(Forbidden) as info:
                await patient.request("specialist", "consultation.request", {}, timeout=60)
    assert info.value.code == 403
    assert info.value.message_id is not None


async def test_unknown_target_raises_target_unavailable(gateway_service: GatewayService) -> None:
    async with Asker("asker", **FAST) as asker:
        with pytest.raises(TargetUnavailable) as info:
            await asker.request("nobody-here", "question.ask", {"text": "?"}, timeout=10)
    assert info.value.code == 503


async def test_send_rejection_goes_to_on_rejected(gateway_service: GatewayService) -> None:
    async with Asker("asker", **FAST) as asker:
        message_id = await asker.send("nobody-here", "note")
        await settle(gateway_service, asker, hops=1)
    [notice] = asker.notices
    assert notice.sender_id == "mas.gateway"
    assert notice.data["code"] == 503
    assert notice.data["message_id"] == message_id


async def test_rate_limited_request_raises_with_retry_after_when_pacing_is_off(
    gateway_service: GatewayService,
) -> None:
    async with Asker("patient", **FAST, rate_limit_wait=0) as patient, Agent("doctor", **FAST):
        for _ in range(8):  # the patient role may burst 5 messages
            await patient.send("doctor", "consultation.request", {})
        with pytest.raises(RateLimited) as info:
            await patient.request("doctor", "consultation.request", {}, timeout=10)
    assert info.value.code == 429
    assert info.value.retry_after > 0


async def test_unauthenticated_request_raises_at_once(
    sdk_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_path = tmp_path / "operator-gw.key"
    write_signing_key(key_path)
    settings = GatewaySettings(
        redis_url=gateway_url(sdk_env),
        policies_dir=sdk_policies(tmp_path / "policies"),
        auto_provision=False,
        signing_key_path=key_path,
        block_ms=50,
        policy_poll_s=None,
        dlp_workers=0,  # scan in-process: the worker pool has its own tests
    )
    async with GatewayService(settings) as gateway:
        monkeypatch.setenv("MAS_GATEWAY_PUBLIC_KEY", gateway.key.public_key_b64)
        async with Responder("responder", **FAST), Asker("asker", **FAST) as asker:
            async with asyncio.timeout(5):
                with pytest.raises(Unauthenticated) as info:
                    await asker.request("responder", "question.ask", {"text": "x"}, timeout=60)
    assert info.value.code == 401
    assert "mas agent provision" in info.value.reason


async def test_invalid_payload_raises_for_request_and_is_reported_for_send(
    gateway_service: GatewayService, redis_client: aioredis.Redis
) -> None:
    async with Responder("responder", **FAST) as responder, Asker("asker", **FAST) as asker:
        with pytest.raises(InvalidPayload) as info:
            await asker.request("responder", "question.ask", {"urgency": "high"}, timeout=10)
        assert "text" in info.value.reason and "urgency" in info.value.reason
        assert "high" not in info.value.reason
        sent = await asker.send("responder", "question.ask", {"nope": True})
        await settle(gateway_service, responder, asker)
    assert responder.received == []
    [report] = asker.notices
    assert report.message_type == "mas.error"
    assert report.sender_id == "responder"
    assert report.data["code"] == 422
    assert report.data["message_id"] == sent
    letters = await dead_letters(redis_client)
    assert [fields[b"dlq_reason"] for _, fields in letters] == [b"invalid payload"] * 2


async def test_request_times_out(gateway_service: GatewayService) -> None:
    async with Responder("responder", **FAST), Asker("asker", **FAST) as asker:
        with pytest.raises(asyncio.TimeoutError):
            await asker.request("responder", "note", {}, timeout=0.5)


async def test_a_request_without_a_gateway_times_out_asking_whether_one_runs(
    sdk_env: str,
) -> None:
    async with Responder("responder", **FAST), Asker("asker", **FAST) as asker:
        with pytest.raises(asyncio.TimeoutError, match="is a gateway running") as raised:
            await asker.request("responder", "question.ask", {"text": "hi"}, timeout=0.5)
    assert "no reply from 'responder' to 'question.ask' within 0.5 s" in str(raised.value)


async def test_stopped_agent_handles_messages_when_it_starts_again(
    gateway_service: GatewayService, redis_client: aioredis.Redis
) -> None:
    async with Responder("responder", **FAST):
        pass
    async with Asker("asker", **FAST) as asker:
        assert await asker.discover() == [
            record for record in await asker.discover() if record["id"] == "asker"
        ]
        sent = await asker.send("responder", "note", {"n": 1})
        async with asyncio.timeout(10):
            await gateway_service.wait_idle()
        assert asker.notices == []
        assert await redis_client.hget(keys.agent_record("responder"), "status") == b"INACTIVE"
        async with Responder("responder", **FAST) as responder:
            await responder.wait_idle()
    assert [m.message_id for m in responder.received] == [sent]


async def test_reply_reaching_another_instance_is_forwarded(
    gateway_service: GatewayService,
) -> None:
    release = asyncio.Event()

    class BusyAsker(Asker):
        @Agent.on("block")
        async def block(self, message: AgentMessage, payload: None) -> None:
            await release.wait()

    options = {**FAST, "concurrency": 1}
    async with (
        Responder("responder", **FAST),
        BusyAsker("asker", **options) as first,
        Agent("client", **FAST) as client,
    ):
        await client.send("asker", "block")

        async def first_is_busy() -> bool:
            session = first._session
            return session is not None and session.consumer.inflight == 1

        await eventually(first_is_busy, timeout=10)
        async with BusyAsker("asker", **options) as second:
            reply = await first.request("responder", "question.ask", {"text": "fwd"}, timeout=10)
            release.set()
            await second.wait_idle()
    assert reply.data == {"echo": "fwd", "urgency": 1}
    assert second.answers == [] and first.answers == []
