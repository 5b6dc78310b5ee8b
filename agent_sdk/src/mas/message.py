"""AgentMessage: a verified delivery as handlers see it, with `reply()`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .envelope import GATEWAY_SENDER, Delivery

__all__ = ["AgentMessage", "Replier", "SenderCheck"]

Replier = Callable[["AgentMessage", str, "Mapping[str, Any] | BaseModel"], Awaitable[str]]
"""Sends a reply to a message; returns the reply's message id."""


class SenderCheck:
    """Checks the sender's own signature of a message once, the first time it is asked."""

    __slots__ = ("_check", "_result")

    def __init__(self, check: Callable[[], bool] | None = None) -> None:
        self._check = check
        self._result: bool | None = None if check is not None else False

    def __call__(self) -> bool:
        if self._result is None:
            assert self._check is not None
            self._result = self._check()
            self._check = None
        return self._result


@dataclass(frozen=True)
class AgentMessage:
    """One message delivered to this agent through the gateway."""

    message_id: str
    sender_id: str
    target_id: str
    message_type: str
    data: dict[str, Any]
    timestamp: float
    correlation_id: str | None = None
    in_reply_to: str | None = None
    expects_reply: bool = False
    redacted_paths: tuple[str, ...] = ()
    """Payload paths the gateway redacted before delivery (empty if untouched)."""
    delivered_at: float = 0.0
    stream_id: str = ""
    _replier: Replier | None = field(default=None, repr=False, compare=False)
    _sender_check: SenderCheck = field(default_factory=SenderCheck, repr=False, compare=False)

    @classmethod
    def from_delivery(
        cls, delivery: Delivery, *, sender_check: SenderCheck, replier: Replier | None
    ) -> AgentMessage:
        """Build from a verified delivery."""
        env = delivery.envelope
        return cls(
            message_id=env.message_id,
            sender_id=env.sender_id,
            target_id=env.target_id,
            message_type=env.message_type,
            data=dict(env.data),
            timestamp=env.timestamp,
            correlation_id=env.correlation_id,
            in_reply_to=env.in_reply_to,
            expects_reply=env.expects_reply,
            redacted_paths=tuple(delivery.gateway.redacted_paths),
            delivered_at=delivery.gateway.delivered_at,
            stream_id=delivery.stream_id,
            _replier=replier,
            _sender_check=sender_check,
        )

    @property
    def sender_verified(self) -> bool:
        """True when the sender's own signature over this exact content verified.

        The gateway's signature is checked before any handler sees a message; the
        sender's is checked on first access (and remembered), so messages whose
        handler never asks cost no second verification.
        """
        return self._sender_check()

    @property
    def is_from_gateway(self) -> bool:
        """True for notices the gateway itself issued (e.g. rejections)."""
        return self.sender_id == GATEWAY_SENDER

    async def reply(self, message_type: str, data: Mapping[str, Any] | BaseModel) -> str:
        """Send `data` back to the sender, correlated with this message; returns its id."""
        if self._replier is None:
            raise RuntimeError("this message was not delivered to a running agent")
        if self.is_from_gateway:
            raise ValueError("cannot reply to a gateway notice")
        return await self._replier(self, message_type, data)
