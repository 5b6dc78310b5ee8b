"""MASService: the registry's health keeper: lapsed agents become INACTIVE; events relayed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from .. import keys
from ..errors import BackgroundTaskDied, ConfigError
from ..events import publish_event
from ..ops.address import parse_address
from ..options import resolve_redis_url
from ..outage import Outage
from ..redis_connect import connect_redis
from ..redis_text import as_text
from ..scripts import lua_source
from ..urls import redact_url
from ..watchdog import Watchdog
from .relay import EventRelay
from .stats import ServiceStats, status_label

if TYPE_CHECKING:
    from ..ops.http import OpsHttpServer

__all__ = ["MASService", "redact_url", "run_service"]

logger = logging.getLogger(__name__)


class MASService:
    """Watches agent heartbeats and publishes status changes on ``mas.system``."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        check_interval: float = 5.0,
        grace_period: float = 60.0,
        socket_timeout: float = 10.0,
        http_address: str | None = None,
        ready_stall_s: float | None = None,
    ) -> None:
        if check_interval <= 0 or grace_period < 0:
            raise ValueError("check_interval must be > 0 and grace_period >= 0")
        if ready_stall_s is not None and ready_stall_s <= 2.0:
            raise ValueError(
                "ready_stall_s must be > 2 s: the event relay completes a round each second"
            )
        if socket_timeout <= 1.0:
            raise ValueError(
                "socket_timeout must be > 1 s: the event relay waits 1 s for each message"
            )
        self.redis_url = resolve_redis_url(redis_url)
        self.check_interval = check_interval
        self.grace_period = grace_period
        self.socket_timeout = socket_timeout
        """Seconds a Redis command may take (a server that stopped answering fails it)."""
        if http_address is not None:
            parse_address(http_address)
        self.http_address = http_address
        """``host:port`` of ``/healthz``, ``/readyz`` and ``/metrics`` (None: not served)."""
        self.ready_stall_s = (
            ready_stall_s
            if ready_stall_s is not None
            else max(30.0, 3 * check_interval + socket_timeout)
        )
        """Seconds a loop may go without completing a round before ``/readyz`` fails."""
        self.stats = ServiceStats()
        self._ops: OpsHttpServer | None = None
        self._redis: aioredis.Redis | None = None
        self._mark_inactive: AsyncScript | None = None
        self._task: asyncio.Task[None] | None = None
        self._relay: EventRelay | None = None
        self._stop = asyncio.Event()
        self._watchdog: Watchdog | None = None

    @property
    def failure(self) -> BackgroundTaskDied | None:
        """Why the service stopped by itself: one of its loops died (None otherwise)."""
        return self._watchdog.failure if self._watchdog is not None else None

    async def wait_failed(self) -> BackgroundTaskDied:
        """Wait until one of the service's loops dies; return the error naming it."""
        if self._watchdog is None:
            raise RuntimeError("MASService is not started")
        await self._watchdog.died.wait()
        assert self._watchdog.failure is not None
        return self._watchdog.failure

    @property
    def ops_port(self) -> int | None:
        """The port of the operations endpoints, while they are served."""
        return self._ops.port if self._ops is not None else None

    @property
    def redis(self) -> aioredis.Redis:
        """The service's Redis client (while started)."""
        if self._redis is None:
            raise RuntimeError("MASService is not started")
        return self._redis

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._task is not None

    async def start(self) -> None:
        """Connect and start checking in the background."""
        if self._task is not None:
            raise RuntimeError("MASService is already started")
        self._redis = connect_redis(
            self.redis_url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
        )
        try:
            await self._redis.ping()
        except BaseException:
            await self._redis.aclose()
            self._redis = None
            raise
        self._mark_inactive = self._redis.register_script(lua_source("mas", "mark_inactive"))
        self._watchdog = Watchdog("MAS service", lambda _failure: None)
        self._relay = EventRelay(self._redis, self.stats)
        self._watchdog.watch(await self._relay.start())
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="mas-service")
        self._watchdog.watch(self._task)
        if self.http_address is not None:
            try:
                await self._start_ops()
            except BaseException:
                self._ops = None
                await self.stop()
                raise
        logger.info("MAS service watching %s", redact_url(self.redis_url))

    async def _start_ops(self) -> None:
        try:
            from .ops import service_ops_server
        except ImportError as exc:
            raise ConfigError(
                "http_address needs aiohttp and prometheus-client: pip install 'mas-agent-sdk[ops]'"
            ) from exc
        self._ops = service_ops_server(self)
        await self._ops.start()

    async def stop(self) -> None:
        """Stop checking and disconnect. Idempotent."""
        if self._watchdog is not None:
            self._watchdog.close()
        self._stop.set()
        if self._ops is not None:
            await self._ops.stop()
            self._ops = None
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._relay is not None:
            await self._relay.stop()
            self._relay = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def __aenter__(self) -> MASService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        outage = Outage("MAS service health check", logger)
        while not self._stop.is_set():
            wait = self.check_interval
            try:
                await self.check_once()
            except (RedisError, OSError) as exc:
                outage.note(exc)
                wait = min(outage.backoff.step(), self.check_interval)
            else:
                outage.recovered()
                self.stats.progress["health_check"].tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    async def check_once(self) -> list[str]:
        """One pass over the registry; returns the ids marked INACTIVE."""
        if self._redis is None or self._mark_inactive is None:
            raise RuntimeError("MASService is not started")
        redis = self._redis
        ids = sorted(as_text(i) for i in await redis.smembers(keys.ALL_AGENTS))
        if not ids:
            self._count(Counter(), 0)
            return []
        pipe = redis.pipeline(transaction=False)
        for agent_id in ids:
            pipe.hget(keys.agent_record(agent_id), "status")
            pipe.exists(keys.agent_heartbeat(agent_id))
        replies = await pipe.execute(raise_on_error=False)
        cutoff = time.time() - self.grace_period
        lapsed: list[str] = []
        by_status: Counter[str] = Counter()
        alive_count = 0
        for i, agent_id in enumerate(ids):
            status, alive = replies[2 * i], replies[2 * i + 1]
            if isinstance(status, Exception) or isinstance(alive, Exception):
                by_status["unreadable"] += 1
                continue  # one agent's broken record never stops the health check
            by_status[status_label(None if status is None else as_text(status))] += 1
            alive_count += 1 if alive else 0
            if status is None or as_text(status) != "ACTIVE" or alive:
                continue
            changed = await self._mark_inactive(
                keys=[keys.agent_record(agent_id), keys.agent_heartbeat(agent_id)],
                args=[repr(cutoff)],
            )
            if int(changed) == 1:
                lapsed.append(agent_id)
                by_status["ACTIVE"] -= 1
                by_status["INACTIVE"] += 1
                self.stats.marked_inactive += 1
                logger.info("agent %s missed its heartbeat; marked INACTIVE", agent_id)
                await publish_event(
                    redis, "STATUS", agent_id, status="INACTIVE", reason="heartbeat lapsed"
                )
        self._count(by_status, alive_count)
        return lapsed

    def _count(self, by_status: Counter[str], alive: int) -> None:
        stats = self.stats
        stats.agents = {label: n for label, n in by_status.items() if n > 0}
        stats.agents_alive = alive
        stats.heartbeats_seen += alive
        stats.checks += 1


async def run_service(redis_url: str | None = None, **options: float | str | None) -> None:
    """Run a `MASService` until SIGINT or SIGTERM.

    Raises:
        BackgroundTaskDied: one of the service's loops died (the service stopped).
    """
    service = MASService(redis_url, **options)  # type: ignore[arg-type]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await service.start()
    stopped = asyncio.create_task(stop.wait())
    died = asyncio.create_task(service.wait_failed())
    try:
        await asyncio.wait((stopped, died), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        died.cancel()
        await service.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if service.failure is not None:
        raise service.failure
