"""GatewayService: reads the ingress in batches, runs the pipeline, commits the outcome.

Several gateway processes may run against one Redis: they share the ingress
through the consumer group ``gateway`` and share all state through Redis. Entries
that a crashed gateway left pending are taken over after ``claim_idle_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from mas import crypto, keys
from mas.envelope import AGENT_ID_PATTERN, decode_fields
from mas.errors import ConfigError
from mas.urls import redact_url

from .audit import AuditCheckpointer, build_audit_entry
from .authn import AuthenticationStage
from .context import MessageContext
from .delivery import AuditBuilder, Committer
from .dlp import DLPStage
from .dlp_reload import DLPReloader
from .logsafe import log_failure
from .parsing import ParseStage
from .pipeline import Pipeline
from .policy import PolicyStore
from .ratelimit import RateLimitStage
from .redis_types import StreamEntries, read_reply
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
            with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
                await client.xgroup_create(
                    keys.GATEWAY_INGRESS, keys.GATEWAY_GROUP, id="0", mkstream=True
                )
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
        )
        await checkpointer.start()
        self.checkpointer = checkpointer
        self._closers.append(checkpointer.stop)

    # -- processing ------------------------------------------------------------
    async def _consume_loop(self) -> None:
        client = self.client
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                response = await client.xreadgroup(
                    keys.GATEWAY_GROUP,
                    self.consumer,
                    {keys.GATEWAY_INGRESS: ">"},
                    count=self.settings.batch_size,
                    block=self.settings.block_ms,
                )
                backoff = 0.1
            except RedisConnectionError:
                log.warning("lost the Redis connection; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            try:
                for _stream, entries in read_reply(response):
                    await self.process_entries(entries)
            except RedisConnectionError:
                log.warning("lost the Redis connection mid-batch; its entries stay pending")
            except Exception:
                # Never stop consuming: the batch's entries stay pending and are taken over
                # (and, if they keep failing, dead-lettered by the commit) after claim_idle_ms.
                log_failure(log, "a batch failed unexpectedly; its entries stay pending")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _reclaim_loop(self) -> None:
        """Take over entries another gateway left pending for too long."""
        client = self.client
        idle = self.settings.claim_idle_ms
        while not self._stopping.is_set():
            await asyncio.sleep(idle / 2000.0)
            try:
                start = "0-0"
                while True:
                    reply = await client.xautoclaim(
                        keys.GATEWAY_INGRESS,
                        keys.GATEWAY_GROUP,
                        self.consumer,
                        min_idle_time=idle,
                        start_id=start,
                        count=self.settings.batch_size,
                    )
                    parts = cast(list[Any], reply)
                    start = parts[0]
                    claimed = cast(StreamEntries, parts[1])
                    deleted = cast(list[bytes], parts[2]) if len(parts) > 2 else []
                    if deleted:
                        await client.xack(keys.GATEWAY_INGRESS, keys.GATEWAY_GROUP, *deleted)
                    live = [(eid, fields) for eid, fields in claimed if fields]
                    if live:
                        log.info("took over %d entries left pending by another gateway", len(live))
                        await self.process_entries(live)
                    if start in (b"0-0", "0-0"):
                        break
            except RedisConnectionError:
                log.warning("lost the Redis connection while reclaiming; will retry")
            except Exception:
                log.exception("taking over pending entries failed; will retry")

    async def process_entries(self, entries: Sequence[tuple[Any, dict[Any, Any]]]) -> None:
        """Run one batch of ingress entries through the pipeline and commit the results."""
        async with self._batch_lock:
            batch = [
                MessageContext(
                    entry_id=eid.decode() if isinstance(eid, bytes) else str(eid),
                    fields=decode_fields(fields),
                )
                for eid, fields in entries
            ]
            keeper = asyncio.create_task(self._keep_claims([c.entry_id for c in batch]))
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

    async def _keep_claims(self, entry_ids: list[str]) -> None:
        """While a batch is processed, reset its entries' idle time so no peer takes them."""
        interval = self.settings.claim_idle_ms / 3000.0
        while True:
            await asyncio.sleep(interval)
            await self.client.xclaim(
                keys.GATEWAY_INGRESS,
                keys.GATEWAY_GROUP,
                self.consumer,
                min_idle_time=0,
                message_ids=cast(list[Any], entry_ids),
                justid=True,
            )

    async def _decide_notifications(self, batch: Sequence[MessageContext]) -> None:
        """Rejected senders get a notice; for 400/401 only if the token is really theirs."""
        unsure = [
            ctx for ctx in batch if ctx.rejection is not None and ctx.rejection.code in (400, 401)
        ]
        for ctx in batch:
            if ctx.rejection is not None and ctx.rejection.code not in (400, 401):
                ctx.annotations["notify_sender"] = True
        if not unsure:
            return

        pattern = re.compile(AGENT_ID_PATTERN)
        async with self.client.pipeline(transaction=False) as pipe:
            for ctx in unsure:
                pipe.hget(keys.agent_record(ctx.sender_id or "-"), "token_hash")
            hashes = await pipe.execute()
        for ctx, stored in zip(unsure, hashes, strict=True):
            token = ctx.fields.get("token", b"").decode("utf-8", "replace")
            ctx.annotations["notify_sender"] = bool(
                stored
                and pattern.match(ctx.sender_id)
                and token
                and crypto.token_matches(token, stored.decode())
            )

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
        """Wait until the ingress has no unread and no pending entries (for tests and demos).

        Polls Redis (other processes may be writing); bound it with `asyncio.timeout`.
        """
        while True:
            groups = await self.client.xinfo_groups(keys.GATEWAY_INGRESS)
            busy = any(
                (g.get("pending") or 0) > 0 or (g.get("lag") or 0) > 0
                for g in groups
                if (g.get("name") in (keys.GATEWAY_GROUP, keys.GATEWAY_GROUP.encode()))
            )
            if not busy and not self._batch_lock.locked():
                return
            await asyncio.sleep(0.01)
