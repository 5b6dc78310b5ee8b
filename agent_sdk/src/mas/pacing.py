"""After a 429: keep what was sent, resubmit it when the gateway says, and pace what follows.

The gateway answers an over-limit submission asynchronously, with a notice in the
sender's stream that says how long to wait (`retry_after`). `SentMessages` keeps
the envelopes of recently sent messages so one can be resubmitted (same message
id, fresh nonce) without the caller; `Pacer` spaces submissions while the
gateway is refusing them, so that a tight loop of `send()` calls slows down to
the rate the gateway allows instead of losing messages.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from .envelope import Envelope

__all__ = ["Pacer", "SentMessage", "SentMessages"]

_QUIET = 1.0
"""Seconds without a 429 (at least; ten spacings when longer) after which pacing ends."""


@dataclass
class SentMessage:
    """A message kept for resubmission, and how long it has been waiting."""

    envelope: Envelope
    size: int
    limited_since: float | None = None
    """Monotonic time of its first 429."""
    queued: bool = False
    """A resubmission is scheduled."""


class SentMessages:
    """The messages this agent sent recently, kept to resubmit them after a 429.

    Bounded twice: at most `max_messages` messages AND at most `max_bytes` envelope
    bytes in total; the oldest are dropped first (a message larger than `max_bytes`
    on its own is not kept). A 429 for a message no longer kept is final.
    """

    def __init__(self, *, max_messages: int, max_bytes: int) -> None:
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._kept: OrderedDict[str, SentMessage] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def total_bytes(self) -> int:
        """Envelope bytes kept now."""
        return self._bytes

    @property
    def queued(self) -> int:
        """Kept messages whose resubmission is scheduled."""
        return sum(1 for kept in self._kept.values() if kept.queued)

    def keep(self, envelope: Envelope, size: int) -> None:
        """Remember `envelope` (of `size` bytes); drop the oldest beyond the bounds."""
        self.forget(envelope.message_id)
        if size > self._max_bytes:
            return
        self._kept[envelope.message_id] = SentMessage(envelope, size)
        self._bytes += size
        while len(self._kept) > self._max_messages or self._bytes > self._max_bytes:
            _, dropped = self._kept.popitem(last=False)
            self._bytes -= dropped.size

    def get(self, message_id: str) -> SentMessage | None:
        """The kept message, if still remembered."""
        return self._kept.get(message_id)

    def forget(self, message_id: str) -> None:
        """Stop keeping a message (its resubmission, if scheduled, is dropped)."""
        gone = self._kept.pop(message_id, None)
        if gone is not None:
            self._bytes -= gone.size


class Pacer:
    """Spaces submissions while the gateway answers 429.

    Each 429 pushes the next free slot to `retry_after` from now and widens the
    spacing between slots to the longest `retry_after` seen (about the time the
    bucket needs for one message). While pacing, every submission takes the next
    slot; pacing ends once no 429 came for a quiet period.
    """

    def __init__(self) -> None:
        self._next = 0.0
        self._spacing = 0.0
        self._until = 0.0

    @property
    def pacing(self) -> bool:
        """True while submissions are being spaced."""
        return time.monotonic() < self._until

    def limited(self, retry_after: float) -> None:
        """Take in a 429 that asked to wait `retry_after` seconds."""
        now = time.monotonic()
        if now >= self._until:
            self._spacing = 0.0
        self._spacing = max(self._spacing, retry_after)
        self._next = max(self._next, now + retry_after)
        self._until = max(self._until, self._next + max(_QUIET, 10 * self._spacing))

    def due(self, ahead: int) -> float:
        """Monotonic time at which a submission would go with `ahead` others queued before it."""
        return max(time.monotonic(), self._next) + self._spacing * ahead

    async def turn(self, limit: float) -> None:
        """Wait for the next free slot (at once when not pacing), `limit` seconds at most."""
        now = time.monotonic()
        if now >= self._until and now >= self._next:
            return
        slot = max(now, self._next)
        self._next = slot + self._spacing
        if slot > now:
            await asyncio.sleep(min(slot - now, limit))
