"""GatewayService: starts the gateway's parts in order and stops them in reverse.

Reads the agents' outboxes (`outboxes`), runs each batch through the registered
stages under one policy version and commits it (`processor`), keeps the audit tree
signed (`audit`). Each part is built by a function in `wiring`; this class only
orders them. Several gateway processes may run against one Redis: they share
the outboxes through the consumer group ``gateway`` and all state through Redis;
entries a crashed gateway left pending are taken over after ``claim_idle_ms``.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

import redis.asyncio as aioredis

from mas.consumer import StreamConsumer
from mas.watchdog import Watchdog

from .acl_check import check_least_privilege
from .audit import AuditCheckpointer
from .circuits import CircuitKeeper
from .ops.health import Progress
from .ops.metrics import GatewayMetrics
from .outboxes import Outboxes, Submission
from .pipeline import Pipeline
from .policy import PolicyStore
from .processor import BatchProcessor, DecisionListener
from .settings import GatewaySettings
from .signing import GatewayKey, load_or_create_key
from .wiring.background import start_checkpointer, start_circuit_keeper, start_presence
from .wiring.connection import open_redis
from .wiring.consuming import outbox_consumer, until_idle
from .wiring.core import Core
from .wiring.policy import start_policy
from .wiring.processing import build_processor

__all__ = ["DecisionListener", "GatewayService"]

log = logging.getLogger(__name__)


class GatewayService:
    """The security gateway; `async with GatewayService(settings):` runs it."""

    def __init__(self, settings: GatewaySettings | None = None) -> None:
        self.settings = settings or GatewaySettings()
        self.consumer = f"{self.settings.gateway_id}-{uuid.uuid4().hex[:8]}"
        self.watchdog = _watchdog()
        """Knows when a loop that must run forever has ended; see `wait_failed`."""
        self.metrics = GatewayMetrics(self.settings.gateway_id)
        self.progress = Progress()
        """When the consume loop last completed a round (readiness)."""
        self.ops_port: int | None = None
        """The port of the operations endpoints, when they are on."""
        self.policy: PolicyStore | None = None
        self.checkpointer: AuditCheckpointer | None = None
        self.circuits: CircuitKeeper | None = None
        self._client: aioredis.Redis | None = None
        self._key: GatewayKey | None = None
        self._outboxes: Outboxes | None = None
        self._processor: BatchProcessor | None = None
        self._consumer: StreamConsumer | None = None
        self._listeners: list[DecisionListener] = []
        self._closers = AsyncExitStack()

    # -- parts, available after start() --------------------------------------------
    @property
    def client(self) -> aioredis.Redis:
        """The Redis client."""
        return _started(self._client)

    @property
    def key(self) -> GatewayKey:
        """The signing key."""
        return _started(self._key)

    @property
    def pipeline(self) -> Pipeline:
        """The stage pipeline."""
        return _started(self._processor).pipeline

    @property
    def outboxes(self) -> Outboxes:
        """The agents' outboxes this gateway consumes."""
        return _started(self._outboxes)

    @property
    def counts(self) -> Counter[str]:
        """Committed decisions by name, since start."""
        return self._processor.counts if self._processor is not None else Counter()

    def add_listener(self, listener: DecisionListener) -> None:
        """Call `listener(ctx)` after each committed decision (e.g. to print it)."""
        self._listeners.append(listener)
        if self._processor is not None:
            self._processor.listeners.append(listener)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, check privileges, load key and policies (fail closed), then consume.

        Each part registers its stop as it starts; a failure stops what had started.
        """
        settings = self.settings
        self._closers = closers = AsyncExitStack()
        self._client = client = await open_redis(settings)
        closers.push_async_callback(client.aclose)  # the last thing closed
        try:
            strict = not settings.auto_provision
            await check_least_privilege(client, settings.redis_url, strict=strict)
            self._key = key = load_or_create_key(settings.signing_key_path, create=not strict)
            await key.publish(client)
            core = Core(client, key, settings, self.consumer, closers)
            self.policy = store = await start_policy(core)
            self._outboxes = outboxes = Outboxes(client, self.consumer)
            self._processor = processor = await build_processor(core, store, outboxes, self.metrics)
            processor.listeners.extend(self._listeners)
            self.checkpointer = await start_checkpointer(core)
            self.circuits = start_circuit_keeper(core, store)
            await outboxes.refresh()
            processor.listeners.append((await start_presence(core, store)).listener)
        except BaseException:
            await self._close()
            raise
        self.watchdog = _watchdog()  # fresh for each start
        self._consumer = outbox_consumer(core, outboxes, processor, self.progress)
        self.progress.tick()
        await self._consumer.start()
        for task in [*self._consumer.tasks, *store.tasks, self.checkpointer.task]:
            if task is not None:
                self.watchdog.watch(task)
        await self._start_ops()
        stages = " -> ".join(processor.pipeline.names())
        log.info("gateway %s started: stages %s, key %s", settings.gateway_id, stages, key.key_id)

    async def _start_ops(self) -> None:
        from .ops.attach import start_ops_server

        try:
            server = await start_ops_server(self)
        except BaseException:
            await self.stop()
            raise
        if server is not None:
            self.ops_port = server.port
            self._closers.push_async_callback(server.stop)

    async def stop(self) -> None:
        """Stop consuming (a batch in progress is abandoned, its entries stay pending), close."""
        log.info("gateway %s stopping", self.settings.gateway_id)
        self.watchdog.close()
        if self._consumer is not None:
            await self._consumer.stop(0.0)  # leaves the outboxes where it holds nothing
            self._consumer = None
        await self._close()
        log.info("gateway %s stopped", self.settings.gateway_id)

    async def _close(self) -> None:
        """Stop the started parts in reverse order, the Redis client last."""
        await self._closers.aclose()
        self._client = None

    async def __aenter__(self) -> GatewayService:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()

    # -- consuming -------------------------------------------------------------------
    async def process_entries(self, submissions: Sequence[Submission]) -> None:
        """Run one batch of outbox entries through the pipeline and commit the results."""
        await _started(self._processor).process(submissions)

    async def wait_failed(self) -> str:
        """Return why, once a loop of this gateway ended while it was not stopping."""
        await self.watchdog.died.wait()
        return str(self.watchdog.failure)

    async def wait_idle(self) -> None:
        """Wait until no outbox has unread or pending entries (for tests and demos).

        Polls Redis (other processes may be writing); bound it with `asyncio.timeout`.
        """
        await until_idle(self.outboxes, _started(self._processor))


T = TypeVar("T")


def _watchdog() -> Watchdog:
    return Watchdog("gateway", on_death=lambda _error: None)


def _started(part: T | None) -> T:
    if part is None:
        raise RuntimeError("gateway is not started")
    return part
