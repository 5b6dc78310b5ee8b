"""GatewayService: wires the gateway together; each part lives in its own module.

Reads the agents' outboxes (`outboxes`), runs each batch through the registered
stages under one policy version and commits it (`processor`), keeps the audit tree
signed (`audit`). Several gateway processes may run against one Redis: they share
the outboxes through the consumer group ``gateway`` and all state through Redis;
entries a crashed gateway left pending are taken over after ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas import keys
from mas.consumer import Batch, ConsumerSettings, StreamConsumer
from mas.errors import ConfigError
from mas.redis_connect import connect_redis
from mas.urls import redact_url
from mas.watchdog import Watchdog

from .acl_check import check_least_privilege
from .audit import AuditCheckpointer, WitnessFile, build_audit_entry
from .circuits import CircuitKeeper
from .compliance import PolicyHistoryRecorder
from .ops.health import Progress
from .ops.metrics import GatewayMetrics
from .outboxes import Outboxes, Submission, owner_of
from .pipeline import Pipeline
from .policy import PolicyStore
from .policy.dlp_check import dlp_check_for
from .presence import GatewayPresence
from .processor import BatchProcessor, DecisionListener
from .redis_packing import use_hiredis_packing
from .replicated_commit import ReplicatedCommitter, replica_fence
from .settings import GatewaySettings
from .signing import GatewayKey, load_or_create_key
from .stages.registry import StageEnv, build_stages

__all__ = ["DecisionListener", "GatewayService"]

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]


class GatewayService:
    """The security gateway; `async with GatewayService(settings):` runs it."""

    def __init__(self, settings: GatewaySettings | None = None) -> None:
        self.settings = settings or GatewaySettings()
        self.consumer = f"{self.settings.gateway_id}-{uuid.uuid4().hex[:8]}"
        self._client: aioredis.Redis | None = None
        self._key: GatewayKey | None = None
        self._processor: BatchProcessor | None = None
        self._outboxes: Outboxes | None = None
        self._listeners: list[DecisionListener] = []
        self._closers: list[Closer] = []
        self._consumer: StreamConsumer | None = None
        self.watchdog = Watchdog("gateway", on_death=lambda _error: None)
        """Knows when a loop that must run forever has ended; see `wait_failed`."""
        self.metrics = GatewayMetrics(self.settings.gateway_id)
        self.progress = Progress()
        """When the consume loop last completed a round (readiness)."""
        self.ops_port: int | None = None
        """The port of the operations endpoints, when they are on."""
        self.policy: PolicyStore | None = None
        self.checkpointer: AuditCheckpointer | None = None
        self.circuits: CircuitKeeper | None = None

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
        """Connect, load key and policies (fail closed), then start consuming."""
        settings = self.settings
        client = connect_redis(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout_s,
            socket_connect_timeout=settings.redis_socket_timeout_s,
        )
        use_hiredis_packing(client)
        try:
            await client.ping()  # type: ignore[misc]
        except RedisError as exc:
            await client.aclose()
            raise ConfigError(f"cannot reach Redis at {redact_url(settings.redis_url)}") from exc
        self._client = client
        try:
            await check_least_privilege(
                client, settings.redis_url, strict=not settings.auto_provision
            )
            self._key = load_or_create_key(
                settings.signing_key_path, create=settings.auto_provision
            )
            await self._key.publish(client)
            store = await self._start_policy(client)
            env = StageEnv(client, settings, store)
            self._closers.append(lambda: _close_all(env.closers))
            pipeline = Pipeline(await build_stages(settings.stages, env))
            committer = ReplicatedCommitter(
                client,
                self._key,
                gateway_id=settings.gateway_id,
                consumer=self.consumer,
                audit=functools.partial(
                    build_audit_entry, gateway_id=settings.gateway_id, key_id=self._key.key_id
                ),
                dedup_window_s=settings.message_dedup_window_s,
            )
            committer.fence = replica_fence(
                client,
                self.consumer,
                replicas=settings.commit_replicas,
                timeout_ms=settings.replica_timeout_ms,
            )
            self._outboxes = Outboxes(client, self.consumer)
            self._processor = BatchProcessor(
                client,
                pipeline,
                store,
                committer,
                keep_claims=self._outboxes.keep_claims,
                claim_idle_ms=settings.claim_idle_ms,
                redis_timeout_s=settings.redis_socket_timeout_s,
            )
            self._processor.listeners.extend([self.metrics.observe_decision, *self._listeners])
            self._processor.on_batch = self.metrics.observe_batch
            pipeline.on_stage = self.metrics.observe_stage
            await self._start_checkpointer()
            self._start_circuits(store)
            await self._outboxes.refresh()
            presence = GatewayPresence(client, self.consumer, settings.gateway_id, store)
            self._processor.listeners.append(presence.listener)
            await presence.start()
            self._closers.append(presence.stop)
        except BaseException:
            await self._close()
            raise
        self.watchdog = Watchdog("gateway", on_death=lambda _error: None)  # fresh for each start
        self._consumer = self._outbox_consumer(client, self._outboxes)
        self.progress.tick()
        await self._consumer.start()
        for task in [
            *self._consumer.tasks,
            *_started(self.policy).tasks,
            _started(self.checkpointer).task,
        ]:
            if task is not None:
                self.watchdog.watch(task)
        await self._start_ops()
        log.info(
            "gateway %s started: stages %s, key %s",
            settings.gateway_id,
            " -> ".join(pipeline.names()),
            self._key.key_id,
        )

    async def _start_policy(self, client: aioredis.Redis) -> PolicyStore:
        """Load and test the policies (`ConfigError` when broken), record them, watch them."""
        settings = self.settings
        store = await asyncio.to_thread(PolicyStore.load, settings.policies_dir, dlp=dlp_check_for)
        history = PolicyHistoryRecorder(client, settings.gateway_id)
        await history.record(store.current)  # compliance evidence: which version was in force
        store.add_listener(history.listener)
        await store.start(client, poll_interval=settings.policy_poll_s)
        self._closers += [history.aclose, store.stop]
        self.policy = store
        return store

    async def _start_ops(self) -> None:
        from .ops.attach import start_ops_server

        try:
            server = await start_ops_server(self)
        except BaseException:
            await self.stop()
            raise
        if server is not None:
            self.ops_port = server.port
            self._closers.append(server.stop)

    async def _start_checkpointer(self) -> None:
        settings = self.settings
        checkpointer = AuditCheckpointer(
            self.client,
            self.key.private_key,
            every_n=settings.audit_checkpoint_every,
            every_s=settings.audit_checkpoint_interval_s,
            gateway_id=settings.gateway_id,
            witness=WitnessFile(settings.witness_path),
            replica_fence=replica_fence(
                self.client,
                self.consumer,
                replicas=settings.commit_replicas,
                timeout_ms=settings.replica_timeout_ms,
                what="the audit checkpoint",
            ),
        )
        await checkpointer.start()
        self.checkpointer = checkpointer
        self._closers.append(checkpointer.stop)

    def _start_circuits(self, store: PolicyStore) -> None:
        """With the circuit stage in the pipeline, the task that keeps circuits and releases."""
        settings = self.settings
        if "circuit" not in settings.stages:
            return
        keeper = CircuitKeeper(
            self.client,
            store,
            gateway_id=settings.gateway_id,
            key_id=self.key.key_id,
            poll_s=settings.circuit_poll_s,
        )
        keeper.start()
        self.circuits = keeper
        self._closers.append(keeper.stop)

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
        await _close_all(self._closers)
        self._closers = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> GatewayService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- consuming -------------------------------------------------------------------
    async def process_entries(self, submissions: Sequence[Submission]) -> None:
        """Run one batch of outbox entries through the pipeline and commit the results."""
        await _started(self._processor).process(submissions)

    async def _process_all(self, submissions: Sequence[Submission]) -> None:
        size = self.settings.batch_size
        for start in range(0, len(submissions), size):
            await self.process_entries(submissions[start : start + size])

    def _outbox_consumer(self, client: aioredis.Redis, outboxes: Outboxes) -> StreamConsumer:
        """The SDK's stream consumer over every outbox, one batch at a time.

        The batch processor renews the claims of the batch it decides (and learns from
        them which entries their owner withdrew), so the consumer does not.
        """
        settings = self.settings
        return StreamConsumer(
            client,
            group=keys.GATEWAY_GROUP,
            consumer=self.consumer,
            streams=outboxes.streams,
            settings=ConsumerSettings(
                batch_size=settings.batch_size,
                max_inflight=settings.batch_size,
                block_ms=settings.block_ms,
                claim_idle_s=settings.claim_idle_ms / 1000.0,
                keep_claims=False,
                one_batch_at_a_time=True,
            ),
            process=self._process_batch,
            missing_group=outboxes.restore_group,
            before_read=outboxes.follow,
            on_progress=self.progress.tick,
            label="outboxes",
        )

    async def _process_batch(self, batch: Batch) -> None:
        taken = sum(1 for entry in batch.entries if entry.deliveries > 1)
        if taken:
            log.info("took over %d entries left pending by another gateway", taken)
        await self._process_all(
            [Submission(owner_of(e.stream), e.entry_id, e.fields) for e in batch.entries]
        )

    async def wait_failed(self) -> str:
        """Return why, once a loop of this gateway ended while it was not stopping."""
        await self.watchdog.died.wait()
        return str(self.watchdog.failure)

    async def wait_idle(self) -> None:
        """Wait until no outbox has unread or pending entries (for tests and demos).

        Polls Redis (other processes may be writing); bound it with `asyncio.timeout`.
        """
        processor = _started(self._processor)
        while True:
            # The lock is looked at after the outboxes: a batch read and committed while
            # they were being read may still be counting its outcomes.
            if await self.outboxes.idle() and not processor.lock.locked():
                return
            await asyncio.sleep(0.01)


T = TypeVar("T")


def _started(part: T | None) -> T:
    if part is None:
        raise RuntimeError("gateway is not started")
    return part


async def _close_all(closers: list[Closer]) -> None:
    for closer in reversed(closers):
        await closer()
