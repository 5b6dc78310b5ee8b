"""Hot reload triggers: changed policy files (polled mtimes) and the Redis reload channel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas import keys

from .sources import fingerprint

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from .store import PolicyStore

__all__ = ["PolicyWatcher"]

log = logging.getLogger("mas_gateway.policy")


class PolicyWatcher:
    """Asks the store to reload when files change (once they settle) or when told over Redis."""

    def __init__(
        self,
        store: PolicyStore,
        *,
        redis: aioredis.Redis | None = None,
        poll_interval: float | None = 1.0,
    ) -> None:
        if poll_interval is not None and poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._store = store
        self._redis = redis
        self._poll_interval = poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: PubSub | None = None

    async def start(self) -> None:
        """Subscribe (confirmed before returning) and start the loops."""
        if self._redis is not None:
            self._pubsub = await self._subscribe(self._redis)
            self._tasks.append(asyncio.create_task(self._listen(), name="policy-reload-channel"))
        if self._poll_interval is not None:
            self._tasks.append(asyncio.create_task(self._poll(), name="policy-file-watch"))

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The running loops."""
        return list(self._tasks)

    async def stop(self) -> None:
        """Cancel the loops and close the subscription."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def _poll(self) -> None:
        """Reload once a change has stayed the same for one interval (editors write in steps)."""
        assert self._poll_interval is not None
        root = self._store.policies_dir
        seen = fingerprint(root)
        pending = True
        while True:
            await asyncio.sleep(self._poll_interval)
            now = fingerprint(root)
            if now != seen:
                seen, pending = now, True
                continue
            if pending:
                pending = False
                await self._reload("file change")

    async def _subscribe(self, client: aioredis.Redis) -> PubSub:
        pubsub = client.pubsub()
        await pubsub.subscribe(keys.POLICY_RELOAD_CHANNEL)
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                raise RedisError("no confirmation for the policy reload subscription")
            if message["type"] == "subscribe":
                return pubsub

    async def _listen(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._pubsub
            try:
                if pubsub is None:
                    assert self._redis is not None
                    pubsub = self._pubsub = await self._subscribe(self._redis)
                    await self._reload("reconnected to Redis")
                message = await pubsub.get_message(timeout=5.0)
                backoff = 0.1
            except (RedisError, OSError) as exc:
                log.warning("policy reload channel lost (%s); retrying in %.1f s", exc, backoff)
                if pubsub is not None:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()
                self._pubsub = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if message is not None and message["type"] == "message":
                await self._reload("reload requested over Redis")

    async def _reload(self, why: str) -> None:
        result = await self._store.reload_async()
        if result.status != "unchanged":
            log.info("policy reload (%s): %s, version %s", why, result.status, result.version[:12])
