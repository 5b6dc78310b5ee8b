"""Heartbeat: keeps one instance's liveness keys fresh while the agent runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import AuthenticationError, RedisError

from .outage import Outage
from .registry import Registry

__all__ = ["Heartbeat"]

logger = logging.getLogger(__name__)


class Heartbeat:
    """Refreshes the heartbeat every `interval` seconds with a TTL of `ttl` seconds."""

    def __init__(
        self,
        registry: Registry,
        *,
        interval: float,
        ttl: float,
        reregister: Callable[[], Awaitable[None]],
    ) -> None:
        self._registry = registry
        self._interval = interval
        self._ttl = ttl
        self._reregister = reregister
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._revoked_logged = False

    def start(self) -> None:
        """Begin beating in the background."""
        self._stop.clear()
        self._task = asyncio.create_task(
            self._run(), name=f"mas-heartbeat-{self._registry.agent_id}"
        )

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The beating task, while started."""
        return self._task

    async def stop(self) -> None:
        """Stop beating (the keys then expire or are removed by deregistration)."""
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def beat(self) -> None:
        """One heartbeat; re-register if the record vanished."""
        result = await self._registry.heartbeat(self._ttl)
        if result == -2:
            logger.warning(
                "registry record of agent %s vanished; registering again", self._registry.agent_id
            )
            await self._reregister()

    async def _run(self) -> None:
        outage = Outage(f"heartbeat of agent {self._registry.agent_id}", logger)
        wait = self._interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            if self._stop.is_set():
                return
            wait = self._interval
            try:
                await self.beat()
            except AuthenticationError:
                if not self._revoked_logged:
                    self._revoked_logged = True
                    logger.error(
                        "Redis refuses the credentials of agent %s: revoked or rotated",
                        self._registry.agent_id,
                    )
            except (RedisError, OSError) as exc:
                outage.note(exc)
                wait = min(outage.backoff.step(), self._interval)  # beat again soon
            else:
                outage.recovered()
