"""Routing check: the target must be a known, non-revoked agent (else 503).

A known agent that is stopped is a valid target: its stream keeps the message
until it starts again.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from mas.errors import TargetUnavailable

from .context import MessageContext
from .registry import fetch_records

__all__ = ["TargetStage"]


class TargetStage:
    """Looks up every target of a batch in one round trip."""

    name = "target"

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._status: dict[str, str | None] = {}

    async def prepare(self, batch: Sequence[MessageContext]) -> None:
        """Look up each distinct target's identity and revocation."""
        targets = {ctx.envelope.target_id for ctx in batch if ctx.envelope}
        records = await fetch_records(self._client, targets)
        self._status = {}
        for target in targets:
            record = records.get(target)
            if record is None or record.identity is None:
                self._status[target] = None
            else:
                self._status[target] = "REVOKED" if record.trust.revoked else "KNOWN"

    async def check(self, ctx: MessageContext) -> None:
        """Raise `TargetUnavailable` for unknown or revoked targets."""
        assert ctx.envelope is not None
        target = ctx.envelope.target_id
        if target not in self._status:
            await self.prepare([ctx])
        status = self._status.get(target)
        mid = ctx.message_id
        if status is None:
            raise TargetUnavailable(f"unknown target agent {target!r}", message_id=mid)
        if status == "REVOKED":
            raise TargetUnavailable(f"target agent {target!r} is revoked", message_id=mid)
