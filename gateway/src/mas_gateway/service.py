"""GatewayService: reads the agents' outboxes in batches, runs the pipeline, commits.

Several gateway processes may run against one Redis: they share the outboxes
through the consumer group ``gateway`` and share all state through Redis. Entries
that a crashed gateway left pending are taken over after ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas import keys
from mas.errors import ConfigError
from mas.urls import redact_url

from .acl_check import check_least_privilege
from .audit import AuditCheckpointer, WitnessFile, build_audit_entry
from .authn import AuthenticationStage
from .context import MessageContext
from .delivery import AuditBuilder, Committer
from .dlp import DLPStage
from .dlp_reload import DLPReloader
from .logsafe import log_failure
from .outboxes import Outboxes, Submission
from .parsing import ParseStage
from .pipeline import Pipeline
from .policy import PolicyStore
from .ratelimit import RateLimitStage
from .routing import TargetStage
from .settings import GatewaySettings
from .signing import GatewayKey, load_or_create_key
from .stage import Stage
from .tracing import end_message_span

__all__ = ["DecisionListener", "GatewayService"]

log = logging.getLogger(__name__)

DecisionListener = Callable[[MessageContext], None]


class GatewayService:
    """The security gateway; `async with GatewayService(settings):` runs it."""

    def __init__(self, settings: GatewaySettings | None = None) -> None:
        self.settings = settings or GatewaySettings()
        self.consumer = f"{self.settings.gateway_id}-{uuid.uuid4().hex[:8]}"
        self.counts: Counter[str] = Counter()
        self._listeners: list[DecisionListener] = []
        self._client: aioredis.Redis | None = None
        self._key: GatewayKey | None = None
        self._pipeline: Pipeline | None = None
        self._committer: Committer | None = None
        self._outboxes: Outboxes | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._batch_lock = asyncio.Lock()
        self._closers: list[Callable[[], Any]] = []
        self.policy: PolicyStore | None = None
        self.checkpointer: AuditCheckpointer | None = None

    # -- lifecycle -------------------------------------------------------------
    @property
    def client(self) -> aioredis.Redis:
        """The Redis client; only after start()."""
        if self._client is None:
            raise RuntimeError("gateway is not started")
        return self._client

    @property
    def key(self) -> GatewayKey:
        """The signing key; only after start()."""
        if self._key is None:
            raise RuntimeError("gateway is not started")
        return self._key

    @property
    def pipeline(self) -> Pipeline:
        """The stage pipeline; only after start()."""
        if self._pipeline is None:
            raise RuntimeError("gateway is not started")
        return self._pipeline

    def add_listener(self, listener: DecisionListener) -> None:
        """Call `listener(ctx)` after each committed decision (e.g. to print it)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Connect, load key and policies (fail closed), then start consuming."""
        settings = self.settings
        client = aioredis.Redis.from_url(settings.redis_url)
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
            self._pipeline = Pipeline(await self._build_stages())
            self._watch_dlp_rules()
            self._committer = Committer(
                client,
                self._key,
                gateway_id=settings.gateway_id,
                consumer=self.consumer,
                audit=self._audit_builder(),
            )
            await self._start_checkpointer()
            self._outboxes = Outboxes(
                client,
                self.consumer,
                batch_size=settings.batch_size,
                claim_idle_ms=settings.claim_idle_ms,
            )
            await self._outboxes.refresh()
        except BaseException:
            await self._close()
            raise
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._consume_loop(), name="gateway-consume"),
            asyncio.create_task(self._reclaim_loop(), name="gateway-reclaim"),
        ]
        log.info(
            "gateway %s started: stages %s, key %s",
            settings.gateway_id,
            " -> ".join(self.pipeline.names()),
            self.key.key_id,
        )

    async def stop(self) -> None:
        """Finish the batch in progress, stop consuming and close connections."""
        log.info("gateway %s stopping", self.settings.gateway_id)
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._close()
        log.info("gateway %s stopped", self.settings.gateway_id)

    async def _close(self) -> None:
        for closer in reversed(self._closers):
            result = closer()
            if asyncio.iscoroutine(result):
                await result
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

    # -- wiring ----------------------------------------------------------------
    async def _build_stages(self) -> list[Stage]:
        """The default pipeline, in order."""
        from .policy_wiring import build_policy_stages

        client = self.client
        settings = self.settings
        policy, closers = await build_policy_stages(client, settings)
        self.policy = policy.store
        self._closers.extend(closers)
        stages: list[Stage] = [
            ParseStage(max_envelope_bytes=settings.max_envelope_bytes),
            AuthenticationStage(
                client,
                replay_window_s=settings.replay_window_s,
                auto_provision=settings.auto_provision,
            ),
            policy.authz,
            TargetStage(client),
            RateLimitStage(client, policy.limit_for),
            *policy.extra,
        ]
        return stages

    def _watch_dlp_rules(self) -> None:
        """Swap in new DLP rules when a new policy version changes them."""
        if self.policy is None or not any(s.name == "dlp" for s in self.pipeline.stages):
            return
        reloader = DLPReloader(
            self.pipeline,
            self._batch_lock,
            self.settings.policies_dir,
            self.policy.current,
            workers=self.settings.dlp_workers,
        )
        self.policy.add_listener(reloader.listener)
        self._closers.append(self._close_dlp_stage)
        self._closers.append(reloader.aclose)

    async def _close_dlp_stage(self) -> None:
        for stage in self.pipeline.stages:
            if isinstance(stage, DLPStage):
                await stage.aclose()

    def _audit_builder(self) -> AuditBuilder:
        """Builds each decision's audit entry; it is committed with the decision itself."""
        return functools.partial(
            build_audit_entry, gateway_id=self.settings.gateway_id, key_id=self.key.key_id
        )

    async def _start_checkpointer(self) -> None:
        checkpointer = AuditCheckpointer(
            self.client,
            self.key.private_key,
            every_n=self.settings.audit_checkpoint_every,
            every_s=self.settings.audit_checkpoint_interval_s,
            gateway_id=self.settings.gateway_id,
            witness=WitnessFile(self.settings.witness_path),
        )
        await checkpointer.start()
        self.checkpointer = checkpointer
        self._closers.append(checkpointer.stop)

    # -- processing ------------------------------------------------------------
    @property
    def outboxes(self) -> Outboxes:
        """The agents' outboxes this gateway consumes; only after start()."""
        if self._outboxes is None:
            raise RuntimeError("gateway is not started")
        return self._outboxes

    async def _consume_loop(self) -> None:
        backoff = _Backoff()
        while not self._stopping.is_set():
            try:
                submissions = await self.outboxes.read(self.settings.block_ms)
                backoff.reset()
                for start in range(0, len(submissions), self.settings.batch_size):
                    await self.process_entries(
                        submissions[start : start + self.settings.batch_size]
                    )
            except RedisError as exc:
                # Entries read but not committed stay pending and are taken over later.
                log.warning("Redis error while consuming (%s); retry in %.1f s", exc, backoff.delay)
                await backoff.wait()
            except Exception:
                # Never stop consuming: the batch's entries stay pending and are taken over
                # (and, if they keep failing, dead-lettered by the commit) after claim_idle_ms.
                log_failure(log, "a batch failed unexpectedly; its entries stay pending")
                await backoff.wait()

    async def _reclaim_loop(self) -> None:
        """Take over entries another gateway left pending for too long."""
        while not self._stopping.is_set():
            await asyncio.sleep(self.settings.claim_idle_ms / 2000.0)
            try:
                taken = await self.outboxes.reclaim()
                if taken:
                    log.info("took over %d entries left pending by another gateway", len(taken))
                for start in range(0, len(taken), self.settings.batch_size):
                    await self.process_entries(taken[start : start + self.settings.batch_size])
            except RedisError as exc:
                log.warning("Redis error while taking over entries (%s); will retry", exc)
            except Exception:
                log.exception("taking over pending entries failed; will retry")

    async def process_entries(self, submissions: Sequence[Submission]) -> None:
        """Run one batch of outbox entries through the pipeline and commit the results."""
        async with self._batch_lock:
            batch = [
                MessageContext(entry_id=sub.entry_id, fields=sub.fields, origin=sub.agent_id)
                for sub in submissions
            ]
            keeper = asyncio.create_task(self._keep_claims(submissions))
            try:
                await self.pipeline.run(batch)
                await self._decide_notifications(batch)
                assert self._committer is not None
                outcomes = await self._committer.commit(batch)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            for ctx, outcome in zip(batch, outcomes, strict=True):
                end_message_span(ctx)
                if not outcome.committed:
                    continue
                self.counts[outcome.decision] += 1
                self._log_decision(ctx)
                for listener in self._listeners:
                    try:
                        listener(ctx)
                    except Exception:
                        log.exception("decision listener failed")

    async def _decide_notifications(self, batch: Sequence[MessageContext]) -> None:
        """A rejected sender is told why: its outbox proves who wrote the entry.

        Only provisioned agents are told (revoked ones too), so nothing ever creates
        an inbox for an id the operator does not know.
        """
        rejected = [ctx for ctx in batch if ctx.rejection is not None]
        if not rejected:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for ctx in rejected:
                pipe.exists(keys.agent_trust(ctx.origin))
            known = await pipe.execute()
        for ctx, exists in zip(rejected, known, strict=True):
            ctx.annotations["notify_sender"] = bool(exists)

    async def _keep_claims(self, submissions: Sequence[Submission]) -> None:
        """While a batch is processed, reset its entries' idle time so no peer takes them."""
        interval = self.settings.claim_idle_ms / 3000.0
        while True:
            await asyncio.sleep(interval)
            await self.outboxes.keep_claims(submissions)

    def _log_decision(self, ctx: MessageContext) -> None:
        envelope = ctx.envelope
        route = (
            f"{envelope.sender_id} -> {envelope.target_id} "
            f"[{ctx.recordable('message_type') or 'withheld'}]"
            if envelope
            else f"{ctx.sender_id or '?'} -> ?"
        )
        if ctx.rejection is None:
            log.debug("%s %s", ctx.decision, route)
        else:
            reason = ctx.scrub(ctx.rejection.reason)
            log.info("%s %s: %d %s", ctx.decision, route, ctx.rejection.code, reason)

    async def wait_idle(self) -> None:
        """Wait until no outbox has unread or pending entries (for tests and demos).

        Polls Redis (other processes may be writing); bound it with `asyncio.timeout`.
        """
        while True:
            if not self._batch_lock.locked() and await self.outboxes.idle():
                return
            await asyncio.sleep(0.01)


class _Backoff:
    """Capped exponential delay between retries after an error."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self._first = first
        self._cap = cap
        self.delay = first

    def reset(self) -> None:
        """Back to the first delay after a success."""
        self.delay = self._first

    async def wait(self) -> None:
        """Sleep the current delay, then double it (up to the cap)."""
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, self._cap)
