"""PendingRequests: futures of `request()` calls, settled by replies, rejections and errors.

Several instances of one agent share its stream, so a reply may reach an instance
other than the one waiting. Each request records the waiting instance in Redis;
the instance that reads the reply forwards the signed delivery over pub/sub, and
the waiting instance verifies it again before settling its future.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import keys
from .envelope import GATEWAY_SENDER, REJECTION_TYPE, Delivery
from .errors import MessageRejected, rejection_for_code
from .message import AgentMessage
from .outage import Outage
from .redis_text import as_text

__all__ = ["ERROR_TYPE", "PendingRequests", "correlation_of"]

logger = logging.getLogger(__name__)

ERROR_TYPE = "mas.error"
"""A receiver's report that a message failed its handler's model (code 422)."""

MakeMessage = Callable[[Delivery], Awaitable[AgentMessage]]
Verify = Callable[[str, dict[str, bytes]], Awaitable[Delivery | None]]
Resubmit = Callable[[dict[str, Any]], bool]
"""Schedules the resubmission a rejection notice asks for (429); False if it is final."""


@dataclass
class _Pending:
    target_id: str
    future: asyncio.Future[AgentMessage]


def _is_rejection(delivery: Delivery) -> bool:
    env = delivery.envelope
    return (
        env.message_type == REJECTION_TYPE
        and env.sender_id == GATEWAY_SENDER
        and delivery.gateway.kind == "rejection"
    )


def correlation_of(delivery: Delivery) -> list[str]:
    """Correlation ids under which a delivery could answer a pending request."""
    env = delivery.envelope
    if env.sender_id == GATEWAY_SENDER and delivery.gateway.kind == "notice":
        return []  # e.g. "parked": information, never an answer
    if _is_rejection(delivery):
        return [
            str(v)
            for v in (env.data.get("correlation_id"), env.data.get("message_id"))
            if isinstance(v, str) and v
        ]
    if env.in_reply_to is not None or env.message_type == ERROR_TYPE:
        return [v for v in (env.correlation_id, env.in_reply_to) if v]
    return []


def _rejection_from(data: dict[str, Any]) -> MessageRejected:
    code = data.get("code")
    reason = data.get("reason")
    retry_after = data.get("retry_after")
    message_id = data.get("message_id")
    return rejection_for_code(
        code if isinstance(code, int) else 0,
        reason if isinstance(reason, str) else "rejected without a reason",
        message_id=message_id if isinstance(message_id, str) else None,
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else 0.0,
    )


class PendingRequests:
    """Outstanding requests of one agent instance."""

    def __init__(
        self,
        redis: aioredis.Redis,
        agent_id: str,
        instance_id: str,
        verify: Verify,
        resubmit: Resubmit | None = None,
    ) -> None:
        self._redis = redis
        self._resubmit = resubmit
        self._agent_id = agent_id
        self._instance_id = instance_id
        self._verify = verify
        self._channel = keys.agent_replies_channel(agent_id)
        self._local: dict[str, _Pending] = {}
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._make_message: MakeMessage | None = None

    async def start(self, make_message: MakeMessage) -> None:
        """Subscribe to replies forwarded by other instances."""
        self._make_message = make_message
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)
        self._listener = asyncio.create_task(self._listen(), name=f"mas-replies-{self._agent_id}")

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task listening for forwarded replies, while started."""
        return self._listener

    async def stop(self) -> None:
        """Stop listening and fail every request still waiting."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None
        for pending in self._local.values():
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("agent stopped before the reply came"))
        self._local.clear()

    def register(
        self, correlation_id: str, target_id: str, timeout: float
    ) -> tuple[asyncio.Future[AgentMessage], tuple[str, str, int]]:
        """A future for the reply, and the Redis mark naming this instance as the waiter."""
        if correlation_id in self._local:
            raise ValueError(
                f"a request with message_id {correlation_id!r} is already waiting for its reply"
            )
        future: asyncio.Future[AgentMessage] = asyncio.get_running_loop().create_future()
        self._local[correlation_id] = _Pending(target_id, future)
        mark = (
            keys.agent_pending_request(self._agent_id, correlation_id),
            self._instance_id,
            int((timeout + 5.0) * 1000),
        )
        return future, mark

    def fail(self, correlation_id: str, error: Exception) -> None:
        """Fail a local request (its message could not be resubmitted)."""
        pending = self._local.get(correlation_id)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(error)

    async def discard(self, correlation_id: str) -> None:
        """Forget a finished or abandoned request."""
        self._local.pop(correlation_id, None)
        with contextlib.suppress(Exception):
            await self._redis.delete(keys.agent_pending_request(self._agent_id, correlation_id))

    async def settle(self, delivery: Delivery, fields: dict[str, bytes]) -> bool:
        """Settle a local request or forward to the waiting instance; True if consumed."""
        ids = correlation_of(delivery)
        for cid in ids:
            if cid in self._local:
                return await self._settle_local(cid, delivery)
        for cid in ids:
            owner = await self._redis.get(keys.agent_pending_request(self._agent_id, cid))
            if owner is None or as_text(owner) == self._instance_id:
                continue
            body = {
                "instance": as_text(owner),
                "entry_id": delivery.stream_id,
                "fields": {k: base64.b64encode(v).decode("ascii") for k, v in fields.items()},
            }
            receivers = await self._redis.publish(self._channel, json.dumps(body))
            if receivers:
                return True
        return False

    async def _settle_local(self, cid: str, delivery: Delivery) -> bool:
        pending = self._local[cid]
        env = delivery.envelope
        if pending.future.done():
            return False
        if _is_rejection(delivery):
            if self._resubmit is not None and self._resubmit(env.data):
                return True  # 429: the request is submitted again after retry_after
            pending.future.set_exception(_rejection_from(env.data))
            return True
        if env.sender_id != pending.target_id:
            logger.warning(
                "agent %s got a reply to request %s from %s, not from its target %s; not used",
                self._agent_id,
                cid,
                env.sender_id,
                pending.target_id,
            )
            return False
        if env.message_type == ERROR_TYPE:
            pending.future.set_exception(_rejection_from(env.data))
            return True
        assert self._make_message is not None
        pending.future.set_result(await self._make_message(delivery))
        return True

    async def _listen(self) -> None:
        outage = Outage(f"agent {self._agent_id}: reply forwarding", logger)
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "message":
                    await self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                await outage.failed(exc)
                continue
            outage.recovered()

    async def _receive(self, raw: bytes) -> None:
        try:
            body = json.loads(raw)
            if body.get("instance") != self._instance_id:
                return
            fields = {k: base64.b64decode(v) for k, v in body["fields"].items()}
            entry_id = str(body.get("entry_id", ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("ignoring a malformed forwarded reply for agent %s", self._agent_id)
            return
        delivery = await self._verify(entry_id, fields)
        if delivery is None:
            return
        for cid in correlation_of(delivery):
            if cid in self._local:
                await self._settle_local(cid, delivery)
                return
