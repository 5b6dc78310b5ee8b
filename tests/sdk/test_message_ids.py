"""Caller-chosen message ids: checked, kept through the gateway, correlated for requests."""

from __future__ import annotations

import asyncio

import pytest

from mas import Agent
from mas_gateway import GatewayService

from .conftest import FAST, settle
from .test_pacing import Counting


async def test_send_keeps_the_callers_message_id_and_a_repeat_is_handled_once(
    gateway_service: GatewayService,
) -> None:
    async with Counting("target_agent", **FAST) as target, Agent("my_agent", **FAST) as sender:
        assert await sender.send("target_agent", "note", message_id="order-7") == "order-7"
        await settle(gateway_service, target, sender)
        assert await sender.send("target_agent", "note", message_id="order-7") == "order-7"
        await settle(gateway_service, target, sender)
    assert dict(target.handled) == {"order-7": 1}


@pytest.mark.parametrize(
    ("message_id", "problem"),
    [("", "1 to 64 characters"), ("x" * 65, "got 65 characters"), ("a b", "A-Z")],
)
async def test_an_invalid_message_id_is_refused_before_sending(
    sdk_env: str, message_id: str, problem: str
) -> None:
    async with Agent("my_agent", **FAST) as sender:
        with pytest.raises(ValueError, match="message_id") as info:
            await sender.send("target_agent", "note", message_id=message_id)
        assert problem in str(info.value)
        with pytest.raises(ValueError, match="message_id"):
            await sender.request("target_agent", "note", message_id=message_id, timeout=1)


async def test_request_with_the_callers_message_id_gets_its_reply(
    gateway_service: GatewayService,
) -> None:
    async with Counting("responder", **FAST) as responder, Agent("asker", **FAST) as asker:
        # The first request registers before the second (same id) starts, and waits.
        reply, second = await asyncio.gather(
            asker.request("responder", "question.ask", {"n": 1}, timeout=10, message_id="q-1"),
            asker.request("responder", "question.ask", {"n": 2}, timeout=10, message_id="q-1"),
            return_exceptions=True,
        )
    assert isinstance(second, ValueError) and "already waiting" in str(second)
    assert not isinstance(reply, BaseException)
    assert reply.in_reply_to == "q-1" and reply.correlation_id == "q-1"
    assert reply.data == {"n": 1}
    assert dict(responder.handled) == {"q-1": 1}
