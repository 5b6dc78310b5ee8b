"""Rate limiting: a token bucket per agent, atomic in Redis, shared by all gateway processes.

Each message costs one token per started 64 KiB of envelope (at most a full
bucket); a bucket holds at most `burst` tokens and refills at `rate` tokens per
second using the Redis server's clock. Limits come from
``policies/ratelimits.yaml`` per role, as the batch's policy version has them.

Warning: a full bucket lets `burst` messages through at once; choose `burst` for
the largest spike a receiver should absorb, not only for the average rate.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from mas import keys
from mas.errors import RateLimited

from ..context import MessageContext
from ..lua import load_script
from ..lua.pipelined import PipelinedScript, ScriptCall
from .base import Batch

__all__ = ["RateLimitStage"]


TOKEN_BYTES = 65_536
"""A message costs one token per started 64 KiB of envelope: scanning cost grows with size."""


def cost(ctx: MessageContext, burst: float) -> float:
    """Tokens a message costs (never more than a full bucket, so any message can pass)."""
    return min(float(1 + len(ctx.raw_envelope) // TOKEN_BYTES), max(burst, 1.0))


class RateLimitStage:
    """Takes one token from the sender's bucket per message; 429 when it is empty."""

    name = "ratelimit"

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = PipelinedScript(client, load_script("token_bucket"))

    async def prepare(self, batch: Batch[None]) -> dict[int, float]:
        """Take the batch's tokens in one round trip, in batch order: retry-after of the refused."""
        calls: list[ScriptCall] = []
        for ctx in batch.contexts:
            limit = batch.policy.rate_limit_for(ctx.sender_roles)
            calls.append(
                (
                    [keys.rate_limit_bucket(ctx.sender_id)],
                    [limit.rate, limit.burst, cost(ctx, limit.burst)],
                )
            )
        results = await self._script.run(calls)
        return {
            id(ctx): int(retry_ms) / 1000.0
            for ctx, (allowed, retry_ms, _left) in zip(batch.contexts, results, strict=True)
            if not allowed
        }

    async def check(self, ctx: MessageContext, batch: Batch[dict[int, float]]) -> None:
        """Raise `RateLimited` with a retry-after when the bucket had no token."""
        retry_after = batch.prepared.get(id(ctx))
        if retry_after is not None:
            raise RateLimited(
                f"rate limit exceeded for {ctx.sender_id}; retry after {retry_after:.3f} s",
                retry_after=retry_after,
            )
