"""BatchProcessor: one batch of outbox entries from contexts to committed outcomes.

For each batch: read the policy version in force once, run the pipeline under it,
work out which refused senders are told, commit every outcome atomically, let the
stages with a commit hook see the outcomes, then log, count and call listeners.
While this runs, the entries' claims are renewed so that no peer takes them over.

A transient Redis error anywhere before the commit leaves no trace: the batch is
run again from fresh contexts after a backoff, as long as it takes, and no valid
message is refused because Redis was briefly away. (Tokens a retried batch took
from rate-limit buckets are taken again: a retry may count a message twice.) A
commit cut off half-way is retried too: entries already committed are no longer
pending for this consumer, so their script writes nothing the second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.outage import Outage, is_transient

from .context import MessageContext
from .delivery import Committer, Outcome
from .outboxes import Submission
from .pipeline import Pipeline
from .policy import PolicyStore
from .tracing import end_message_span

__all__ = ["BatchProcessor", "DecisionListener"]

log = logging.getLogger("mas_gateway.service")

DecisionListener = Callable[[MessageContext], None]
KeepClaims = Callable[[Sequence[Submission]], Awaitable[set[tuple[str, str]]]]


class BatchProcessor:
    """Runs batches through the pipeline and commits them; one batch at a time."""

    def __init__(
        self,
        client: aioredis.Redis,
        pipeline: Pipeline,
        store: PolicyStore,
        committer: Committer,
        *,
        keep_claims: KeepClaims,
        claim_idle_ms: int,
        redis_timeout_s: float = 10.0,
    ) -> None:
        self._client = client
        self.pipeline = pipeline
        self._store = store
        self._committer = committer
        self._keep_claims = keep_claims
        self._renew_every = claim_idle_ms / 3000.0
        self._keeper_bound_s = redis_timeout_s + 1.0
        self.counts: Counter[str] = Counter()
        self.listeners: list[DecisionListener] = []
        self.lock = asyncio.Lock()
        """Held while a batch is processed."""
        self.on_batch: Callable[[Sequence[MessageContext], float], None] | None = None
        """Told each committed batch and when it started (`time.perf_counter`; metrics)."""

    async def process(self, submissions: Sequence[Submission]) -> None:
        """Process one batch to its committed outcomes (retrying through Redis outages)."""
        async with self.lock:
            started = time.perf_counter()
            withdrawn: set[tuple[str, str]] = set()
            done = asyncio.Event()
            keeper = _LazyTask(lambda: self._renew(submissions, withdrawn, done))
            keeper.start_after(self._renew_every)
            try:
                contexts, outcomes = await self._decide_and_commit(submissions, withdrawn)
            finally:
                await self._stop_keeper(keeper, done)
            committed = [
                (ctx, outcome)
                for ctx, outcome in zip(contexts, outcomes, strict=True)
                if outcome.committed
            ]
            await self.pipeline.after_commit(committed)
            if self.on_batch is not None:
                self.on_batch(contexts, started)
            for ctx in contexts:
                end_message_span(ctx)
            for ctx, outcome in committed:
                self.counts[outcome.decision] += 1
                _log_decision(ctx)
                for listener in self.listeners:
                    try:
                        listener(ctx)
                    except Exception:
                        log.exception("decision listener failed")

    async def _decide_and_commit(
        self, submissions: Sequence[Submission], withdrawn: set[tuple[str, str]]
    ) -> tuple[list[MessageContext], list[Outcome]]:
        outage = Outage("checking a batch", log)
        while True:
            contexts = [
                MessageContext(entry_id=sub.entry_id, fields=sub.fields, origin=sub.agent_id)
                for sub in submissions
            ]
            try:
                await self.pipeline.run(contexts, self._store.current)
                tell = await self._settle_refusals(contexts)
                outcomes = await self._committer.commit(contexts, tell=tell, withdrawn=withdrawn)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                for ctx in contexts:
                    end_message_span(ctx)
                await outage.failed(exc)
                continue
            outage.recovered()
            return contexts, outcomes

    async def _stop_keeper(self, lazy: _LazyTask, done: asyncio.Event) -> None:
        """Let the claim keeper end by itself, never by a cancel in the middle of a Redis call.

        A cancel that lands inside a pipelined Redis call can be absorbed by the client
        library, and a batch that awaited such a keeper would wait forever while holding
        the batch lock (the gateway would stop consuming). The keeper finishes its call,
        which the socket timeout bounds, and sees `done`; only past that bound is it
        cancelled and left behind.
        """
        done.set()
        keeper = lazy.stop()
        if keeper is None:  # the batch ended before the first renewal was due
            return
        finished, _ = await asyncio.wait({keeper}, timeout=self._keeper_bound_s)
        if not finished:
            keeper.cancel()
            log.warning("the claim keeper of a batch did not stop in time; left it cancelled")

    async def _renew(
        self,
        submissions: Sequence[Submission],
        withdrawn: set[tuple[str, str]],
        done: asyncio.Event,
    ) -> None:
        """Renew the claims now (the first renewal is due), then every `_renew_every`."""
        outage = Outage("renewing claims", log)
        first = True
        while not done.is_set():
            if not first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), self._renew_every)
            first = False
            if done.is_set():
                return
            try:
                withdrawn |= await self._keep_claims(submissions)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                outage.note(exc)
            else:
                outage.recovered()

    async def _settle_refusals(self, contexts: Sequence[MessageContext]) -> set[str]:
        """Who of the refused is told, and which target ids are never repeated.

        An outbox proves who wrote its entries: its owner is told why, if the operator
        provisioned it (so no inbox is ever created for an unknown id). A target id no
        agent has is free text the sender chose: no notice, audit entry or log holds it.
        """
        refused = [ctx for ctx in contexts if ctx.rejection is not None]
        targets = {ctx.envelope.target_id for ctx in refused if ctx.envelope is not None}
        ids = sorted({ctx.origin for ctx in refused} | targets)
        if not ids:
            return set()
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.exists(keys.agent_trust(agent_id))
            found = await pipe.execute()
        known = {agent_id for agent_id, exists in zip(ids, found, strict=True) if exists}
        for ctx in refused:
            if ctx.envelope is not None and ctx.envelope.target_id not in known:
                ctx.withheld.add("target_id")
        return {ctx.origin for ctx in refused if ctx.origin in known}


class _LazyTask:
    """A task started only once a delay has passed: a batch that ends sooner creates none."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._make = make
        self._handle: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    def start_after(self, delay_s: float) -> None:
        """Start the task in `delay_s` seconds, unless stopped before."""
        self._handle = asyncio.get_running_loop().call_later(delay_s, self._start)

    def _start(self) -> None:
        self._handle = None
        self.task = asyncio.ensure_future(self._make())

    def stop(self) -> asyncio.Task[None] | None:
        """Never start it now; the task if it was started."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return self.task


def _log_decision(ctx: MessageContext) -> None:
    envelope = ctx.envelope
    target = "?" if "target_id" in ctx.withheld else envelope.target_id if envelope else "?"
    route = (
        f"{envelope.sender_id} -> {target} [{ctx.recordable('message_type') or 'withheld'}]"
        if envelope
        else f"{ctx.sender_id or '?'} -> ?"
    )
    if ctx.rejection is None:
        log.debug("%s %s", ctx.decision, route)
    else:
        reason = ctx.scrub(ctx.rejection.reason)
        log.info("%s %s: %d %s", ctx.decision, route, ctx.rejection.code, reason)
