"""Transport: builds, signs and submits envelopes to the agent's outbox, read by the gateway."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from . import keys
from .credentials import Credentials
from .envelope import Envelope, sign_submission
from .errors import Unauthenticated
from .telemetry import current_trace_context, producer_span

__all__ = ["PendingMark", "Transport", "payload_dict"]

_REMEMBERED = 10_000
"""Sent message ids kept to recognise a peer's error report about one of them."""

PendingMark = tuple[str, str, int]
"""(key, value, ttl in ms) written in the same transaction as the submission."""


def payload_dict(data: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    """Message data as a JSON-compatible dict; `TypeError` names what cannot be sent."""
    if data is None:
        return {}
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if not isinstance(data, Mapping):
        raise TypeError(f"message data must be a dict or a pydantic model, not {type(data)!r}")
    out = dict(data)
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"message data is not JSON-serializable: {exc}") from exc
    return out


class Transport:
    """Submits signed envelopes on behalf of one agent."""

    def __init__(self, redis: aioredis.Redis, credentials: Credentials) -> None:
        self._redis = redis
        self._credentials = credentials
        self._outbox = keys.agent_outbox(credentials.agent_id)
        self._sent: OrderedDict[str, str] = OrderedDict()
        """Recently sent message id -> target: which error reports a peer may send back."""

    def sent_to(self, message_id: str | None) -> str | None:
        """The target of a message this agent sent recently, if `message_id` names one."""
        return self._sent.get(message_id) if message_id else None

    async def submit(
        self,
        target_id: str,
        message_type: str,
        data: Mapping[str, Any] | BaseModel | None,
        *,
        correlation_id: str | None = None,
        in_reply_to: str | None = None,
        expects_reply: bool = False,
        pending: PendingMark | None = None,
        message_id: str | None = None,
    ) -> Envelope:
        """Sign and append one submission to the agent's outbox; return the envelope sent."""
        payload = payload_dict(data)
        sender = self._credentials.agent_id
        with producer_span(sender, target_id, message_type) as span:
            extra: dict[str, Any] = {}
            if message_id is not None:
                extra["message_id"] = message_id
            try:
                envelope = Envelope(
                    sender_id=sender,
                    target_id=target_id,
                    message_type=message_type,
                    data=payload,
                    correlation_id=correlation_id,
                    in_reply_to=in_reply_to,
                    expects_reply=expects_reply,
                    trace=current_trace_context(),
                    **extra,
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
                )
                raise ValueError(f"cannot send message: {problems}") from exc
            span.set_attribute("messaging.message.id", envelope.message_id)
            fields = sign_submission(
                envelope, self._credentials.private_key, self._credentials.token
            )
            self._remember(envelope)
            try:
                await self._append(fields, pending)
            except AuthenticationError as exc:
                raise self._refused(envelope) from exc
            except RedisConnectionError:
                # The server may have closed the connection because the user was revoked:
                # say so when it refuses us now (nothing is submitted again).
                try:
                    await self._redis.ping()  # type: ignore[misc]
                except AuthenticationError as exc:
                    raise self._refused(envelope) from exc
                except RedisConnectionError:
                    pass
                raise
        return envelope

    def _remember(self, envelope: Envelope) -> None:
        self._sent[envelope.message_id] = envelope.target_id
        while len(self._sent) > _REMEMBERED:
            self._sent.popitem(last=False)

    def _refused(self, envelope: Envelope) -> Unauthenticated:
        return Unauthenticated(
            f"Redis refuses the credentials of agent {envelope.sender_id!r}: revoked or rotated",
            message_id=envelope.message_id,
        )

    async def _append(self, fields: dict[str, bytes], pending: PendingMark | None) -> None:
        if pending is None:
            await self._redis.xadd(self._outbox, fields)  # type: ignore[arg-type]
            return
        key, value, ttl_ms = pending
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, value, px=ttl_ms)
        pipe.xadd(self._outbox, fields)  # type: ignore[arg-type]
        await pipe.execute()
