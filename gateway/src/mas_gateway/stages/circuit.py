"""Circuit breakers: park messages to a target whose circuit is open, in order, never drop them.

The circuit state of each target is kept by the release loop (`mas_gateway.circuits`)
in ``mas.circuit:{target}``; this stage only reads it, once per batch for all
targets. Open or half-open: the message is parked (the sender gets a "parked"
notice) and the loop releases it later. Closed: the message is delivered, unless
something is still parked for the target when it is committed; the commit script
checks that atomically and parks it then, so no message overtakes a parked one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from mas import keys
from mas.redis_text import as_text

from ..context import MessageContext
from .base import Batch, Decode, look_up

__all__ = ["HOLDING_STATES", "CircuitStage"]

HOLDING_STATES = frozenset({"open", "half_open"})
"""States in which new messages to the target are parked."""


class CircuitStage:
    """Reads every target's circuit state in one round trip; parks messages to open ones."""

    name = "circuit"

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: Pipeline) -> Decode:
        """Queue the reads of each distinct target's circuit state."""
        targets = sorted({ctx.envelope.target_id for ctx in contexts if ctx.envelope})
        for target in targets:
            pipe.hget(keys.circuit(target), "state")

        def decode(states: list[Any]) -> dict[str, str | None]:
            return {
                target: None if state is None else as_text(state)
                for target, state in zip(targets, states, strict=True)
            }

        return decode

    async def prepare(self, batch: Batch[None]) -> dict[str, str | None]:
        """The circuit state of each distinct target (None: it never had one)."""
        return await look_up(self, batch)

    async def check(self, ctx: MessageContext, batch: Batch[dict[str, str | None]]) -> None:
        """Park while the circuit holds messages; else deliver behind anything parked."""
        assert ctx.envelope is not None
        target = ctx.envelope.target_id
        state = batch.prepared.get(target)
        if state in HOLDING_STATES:
            shown = "half-open" if state == "half_open" else "open"
            ctx.park(f"the circuit of {target} is {shown}", stage=self.name)
        elif state is not None or batch.policy.circuit_for(target) is not None:
            ctx.park_if_queued = True
