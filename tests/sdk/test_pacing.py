"""429s: messages refused by the rate limit are resubmitted by the SDK, and sending slows down."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mas import Agent, AgentMessage, RateLimited
from mas.envelope import Envelope
from mas.pacing import SentMessages
from mas_gateway import GatewayService, GatewaySettings
from mas_gateway.settings import DEFAULT_STAGES

from ..gateway.helpers import Hold
from ..polling import wait_until
from ..principals import gateway_url
from .conftest import FAST, sdk_policies, settle


class Counting(Agent):
    """Counts every message id it handles and answers questions."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.handled: Counter[str] = Counter()

    @Agent.on("note")
    async def note(self, message: AgentMessage, payload: None) -> None:
        self.handled[message.message_id] += 1

    @Agent.on("question.ask")
    async def ask(self, message: AgentMessage, payload: None) -> None:
        self.handled[message.message_id] += 1
        await message.reply("question.answer", {"n": message.data["n"]})


class Refusals(Agent):
    """Keeps the refusals that reach `on_rejected`."""

    def __init__(self, agent_id: str, **kwargs: Any) -> None:
        super().__init__(agent_id, **kwargs)
        self.refusals: list[AgentMessage] = []

    async def on_rejected(self, notice: AgentMessage) -> None:
        self.refusals.append(notice)


async def limited_gateway(sdk_env: str, tmp_path: Path, rate: float, burst: int) -> GatewayService:
    """A gateway whose test agents (role ``sdk-tester``) may send `rate`/s, `burst` at once."""
    policies = sdk_policies(tmp_path / "policies")
    limits = policies / "ratelimits.yaml"
    text = limits.read_text(encoding="utf-8")
    role = f"roles:\n  sdk-tester:\n    rate: {rate}\n    burst: {burst}\n"
    limits.write_text(text.replace("roles:\n", role, 1), encoding="utf-8")
    return GatewayService(
        GatewaySettings(
            redis_url=gateway_url(sdk_env),
            policies_dir=policies,
            auto_provision=True,
            signing_key_path=tmp_path / "gw.key",
            block_ms=50,
            policy_poll_s=None,
            dlp_workers=0,
        )
    )


@pytest.fixture
async def slow_gateway(sdk_env: str, tmp_path: Path) -> AsyncIterator[GatewayService]:
    """Test agents may send 5 messages a second, 2 at once."""
    async with await limited_gateway(sdk_env, tmp_path, rate=5, burst=2) as gateway:
        yield gateway


@pytest.fixture
async def held_gateway(sdk_env: str, tmp_path: Path) -> AsyncIterator[GatewayService]:
    """A gateway at the default limits whose first batch waits for `Hold.release`."""
    Hold.reached, Hold.release = asyncio.Event(), asyncio.Event()
    settings = GatewaySettings(
        redis_url=gateway_url(sdk_env),
        policies_dir=sdk_policies(tmp_path / "policies"),
        auto_provision=True,
        signing_key_path=tmp_path / "gw.key",
        block_ms=50,
        policy_poll_s=None,
        dlp_workers=0,
        stages=["hold", *DEFAULT_STAGES],
    )
    async with GatewayService(settings) as gateway:
        yield gateway


@pytest.mark.slow
async def test_a_plain_loop_of_500_sends_delivers_every_message_once(
    held_gateway: GatewayService,
) -> None:
    async with (
        Counting("target_agent", **FAST) as target,
        Refusals("my_agent", **FAST) as sender,
    ):
        # The gateway decides nothing until all 500 are in the outbox: then it takes them
        # in a few batches, far faster than the bucket refills (50/s after a burst of 100)
        # however slowly this machine sends, so the limit is hit and the SDK has to pace.
        sent = [await sender.send("target_agent", "note", {"i": i}) for i in range(500)]
        async with asyncio.timeout(30):
            await Hold.reached.wait()
        Hold.release.set()

        async def all_handled() -> bool:
            return len(target.handled) == 500

        await wait_until(all_handled, 60, "500 messages to be handled")
        await settle(held_gateway, target, sender)
    assert set(target.handled) == set(sent)
    assert set(target.handled.values()) == {1}
    assert sender.refusals == []
    assert held_gateway.counts["rate_limited"] > 0  # the default limit (burst 100) was hit


async def test_rate_limited_requests_are_resubmitted_and_answered(
    slow_gateway: GatewayService,
) -> None:
    async with Counting("responder", **FAST) as responder, Agent("asker", **FAST) as asker:
        replies = await asyncio.gather(
            *(asker.request("responder", "question.ask", {"n": n}, timeout=30) for n in range(6))
        )
    assert sorted(r.data["n"] for r in replies) == list(range(6))
    assert set(responder.handled.values()) == {1}
    assert slow_gateway.counts["rate_limited"] > 0


async def test_a_429_beyond_the_wait_bound_reaches_on_rejected(
    sdk_env: str, tmp_path: Path
) -> None:
    async with (
        await limited_gateway(sdk_env, tmp_path, rate=0.2, burst=1) as gateway,
        Counting("responder", **FAST) as responder,
        Refusals("asker", **FAST, rate_limit_wait=0.5) as asker,
    ):
        first = await asker.send("responder", "note")
        second = await asker.send("responder", "note")  # would wait ~5 s: more than 0.5 s
        await settle(gateway, responder, asker)
        with pytest.raises(RateLimited) as info:
            await asker.request("responder", "question.ask", {"n": 1}, timeout=30)
    assert list(responder.handled) == [first]
    [refusal] = asker.refusals
    assert refusal.data["code"] == 429 and refusal.data["message_id"] == second
    assert info.value.retry_after > 0.5


def _envelope(size: int) -> Envelope:
    return Envelope(sender_id="a", target_id="b", message_type="note", data={"x": "y" * size})


def test_sent_messages_are_bounded_by_count_and_by_bytes() -> None:
    kept = SentMessages(max_messages=3, max_bytes=1000)
    envelopes = [_envelope(10) for _ in range(4)]
    for env in envelopes:
        kept.keep(env, 100)
    assert len(kept) == 3 and kept.get(envelopes[0].message_id) is None  # oldest dropped
    big = _envelope(10)
    kept.keep(big, 900)
    assert kept.total_bytes <= 1000 and kept.get(big.message_id) is not None
    assert [kept.get(e.message_id) for e in envelopes[1:3]] == [None, None]
    huge = _envelope(10)
    kept.keep(huge, 1001)
    assert kept.get(huge.message_id) is None and kept.get(big.message_id) is not None
