"""Rate limiting: a token bucket per agent, atomic in Redis, shared by all gateway processes.

Each message costs one token; a bucket holds at most `burst` tokens and refills at
`rate` tokens per second using the Redis server's clock. Limits come from
``policies/ratelimits.yaml`` per role.

Warning: a full bucket lets `burst` messages through at once; choose `burst` for
the largest spike a receiver should absorb, not only for the average rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis

from mas import keys
from mas.errors import RateLimited

from .context import MessageContext
from .lua import load_script

__all__ = ["LimitLike", "RateLimitStage"]


class LimitLike(Protocol):
    """A limit: `rate` tokens per second, bucket size `burst`."""

    @property
    def rate(self) -> float: ...

    @property
    def burst(self) -> float: ...


class RateLimitStage:
    """Takes one token from the sender's bucket per message; 429 when it is empty."""

    name = "ratelimit"

    def __init__(
        self, client: aioredis.Redis, limit_for: Callable[[tuple[str, ...]], LimitLike]
    ) -> None:
        self._client = client
        self._limit_for = limit_for
        self._script = client.register_script(load_script("token_bucket"))
        self._verdicts: dict[str, tuple[bool, float]] = {}

    async def prepare(self, batch: Sequence[MessageContext]) -> None:
        """Take the tokens of the whole batch in one round trip, in batch order."""
        self._verdicts.clear()
        async with self._client.pipeline(transaction=False) as pipe:
            for ctx in batch:
                limit = self._limit_for(ctx.sender_roles)
                await self._script(
                    keys=[keys.rate_limit_bucket(ctx.sender_id)],
                    args=[limit.rate, limit.burst, 1],
                    client=pipe,
                )
            results = await pipe.execute()
        for ctx, (allowed, retry_ms, _left) in zip(batch, results, strict=True):
            self._verdicts[ctx.entry_id] = (bool(allowed), int(retry_ms) / 1000.0)

    async def check(self, ctx: MessageContext) -> None:
        """Raise `RateLimited` with a retry-after when the bucket had no token."""
        verdict = self._verdicts.pop(ctx.entry_id, None)
        if verdict is None:
            await self.prepare([ctx])
            verdict = self._verdicts.pop(ctx.entry_id)
        allowed, retry_after = verdict
        if not allowed:
            raise RateLimited(
                f"rate limit exceeded for {ctx.sender_id}; retry after {retry_after:.3f} s",
                retry_after=retry_after,
            )
