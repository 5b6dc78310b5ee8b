"""Transport: builds, signs and submits envelopes to the gateway ingress stream."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError

from . import keys
from .credentials import Credentials
from .envelope import Envelope, sign_submission
from .telemetry import current_trace_context, producer_span

__all__ = ["PendingMark", "Transport", "payload_dict"]

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
        """Sign and XADD one submission; return the envelope that was sent."""
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
            if pending is None:
                await self._redis.xadd(keys.GATEWAY_INGRESS, fields)  # type: ignore[arg-type]
            else:
                key, value, ttl_ms = pending
                pipe = self._redis.pipeline(transaction=True)
                pipe.set(key, value, px=ttl_ms)
                pipe.xadd(keys.GATEWAY_INGRESS, fields)  # type: ignore[arg-type]
                await pipe.execute()
        return envelope
