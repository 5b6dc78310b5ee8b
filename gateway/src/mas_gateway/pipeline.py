"""Run a batch of contexts through the ordered stages under one policy version.

Stages run stage by stage over the batch (so a stage can batch its Redis round
trips or its NLP work); a message stops at the first verdict. Any unexpected
exception dead-letters the message with code 500: the gateway fails closed and
loses nothing. A transient Redis error is not about the message: it propagates,
and the whole batch is run again once Redis answers (see `processor`). The
pipeline stamps every message with the policy version all its stages saw, opens
the message's span as soon as its envelope is parsed (or it is refused; only when
tracing is on: without a tracer provider no span is built), and then shows each
screening stage the parsed messages that stopped before reaching it
(DLP scans their envelope fields, so that none is recorded unscanned).

Reads are sent ahead: when a stage that starts with Redis reads (`LookupStage`:
sender records, forwarded markers, target records, stream lengths, circuit states)
is reached, the reads of every such stage up to the next screening stage (DLP) go
out in one pipelined round trip for the messages still live, instead of one round
trip per stage. Later stages see a subset of those messages, so their lookups are
covered. Nothing is read ahead past a screening stage: its analysis can take long,
and a circuit state read before it could be stale by then; a lookup stage after it
reads when it is reached. Between, the reads are older than a stage's own by the
in-process checks and the rate-limit round trip; the commit re-checks what must
hold at write time (ownership, forwarded marker, parked queue).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from mas.errors import MessageRejected
from mas.outage import is_transient

from .context import MessageContext
from .decisions import decision_for
from .delivery import Outcome
from .logsafe import log_failure
from .policy import PolicySet
from .stages.base import Batch, CommitHook, LookupStage, ScreeningStage, Stage
from .tracing import enabled as tracing_enabled
from .tracing import record_stage_span, stage_span, start_message_span

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class Pipeline:
    """An ordered list of stages."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages: tuple[Stage, ...] = ()
        self._lookups: frozenset[int] = frozenset()
        self._barriers: tuple[int, ...] = ()
        self._screening: tuple[tuple[int, ScreeningStage], ...] = ()
        self._hooks: tuple[CommitHook, ...] = ()
        self._use(stages)
        self.on_stage: Callable[[str, float], None] | None = None
        """Told each stage's name and seconds over each batch (metrics)."""

    def append(self, stage: Stage) -> None:
        """Add a stage at the end of the pipeline."""
        self._use([*self.stages, stage])

    def _use(self, stages: Sequence[Stage]) -> None:
        # Each stage's hooks are found once: an `isinstance` test against a runtime-checkable
        # protocol inspects the class every time, and costs more than a Redis reply.
        self.stages = tuple(stages)
        self._lookups = frozenset(
            i for i, s in enumerate(self.stages) if isinstance(s, LookupStage)
        )
        self._screening = tuple(
            (i, s) for i, s in enumerate(self.stages) if isinstance(s, ScreeningStage)
        )
        self._barriers = tuple(i for i, _ in self._screening)
        self._hooks = tuple(s for s in self.stages if isinstance(s, CommitHook))

    def names(self) -> list[str]:
        """Stage names in order."""
        return [stage.name for stage in self.stages]

    async def run(self, contexts: Sequence[MessageContext], policy: PolicySet) -> None:
        """Run every stage over the batch; sets each context's verdict and decision.

        Raises:
            A transient Redis error (`mas.outage.is_transient`): no verdict of the batch holds.
        """
        for ctx in contexts:
            ctx.policy_version = policy.version
        live = list(contexts)
        traced = tracing_enabled()
        reached: dict[int, set[int]] = {}
        fetched: dict[int, Any] = {}
        for index, stage in enumerate(self.stages):
            if not live:
                break
            reached[index] = {id(ctx) for ctx in live}
            started = time.perf_counter()
            try:
                if index in self._lookups and index not in fetched:
                    fetched.update(await self._read_ahead(index, live))
                prepared = await stage.prepare(Batch(live, policy, None, fetched.get(index)))
            except Exception as exc:
                if is_transient(exc):
                    raise
                log_failure(log, "stage %s failed to prepare a batch; rejecting it", stage.name)
                for ctx in live:
                    ctx.dead_letter(stage=stage.name)
                break
            batch = Batch(live, policy, prepared)
            for ctx in live:
                await _check(stage, ctx, batch, traced=traced)
            if self.on_stage is not None:
                self.on_stage(stage.name, time.perf_counter() - started)
            live = [ctx for ctx in live if ctx.verdict is None]
        await self._screen(contexts, reached, policy)
        for ctx in contexts:
            ctx.decision = decision_for(ctx)

    async def _read_ahead(self, first: int, contexts: Sequence[MessageContext]) -> dict[int, Any]:
        """The lookups of every `LookupStage` from `first` to the next screening stage,
        in one round trip."""
        stop = next((b for b in self._barriers if b > first), len(self.stages))
        lookups = [
            (index, cast(LookupStage, self.stages[index]))
            for index in sorted(self._lookups)
            if first <= index < stop
        ]
        client = lookups[0][1].client
        shared = [(index, stage) for index, stage in lookups if stage.client is client]
        async with client.pipeline(transaction=False) as pipe:
            decoders: list[tuple[int, Callable[[list[Any]], Any], int, int]] = []
            for index, stage in shared:
                start = len(pipe)
                decode = stage.queue_reads(contexts, pipe)
                decoders.append((index, decode, start, len(pipe)))
            replies = await pipe.execute() if len(pipe) else []
        return {index: decode(replies[start:end]) for index, decode, start, end in decoders}

    async def _screen(
        self,
        contexts: Sequence[MessageContext],
        reached: dict[int, set[int]],
        policy: PolicySet,
    ) -> None:
        """Show each screening stage the parsed messages that stopped before it."""
        for index, stage in self._screening:
            seen = reached.get(index, set())
            missed = [c for c in contexts if c.envelope is not None and id(c) not in seen]
            if not missed:
                continue
            try:
                await stage.screen(Batch(missed, policy, None))
            except Exception:
                log_failure(log, "stage %s failed to screen rejected messages", stage.name)
                for ctx in missed:
                    ctx.withheld.update(stage.screened_fields)

    async def after_commit(self, outcomes: Sequence[tuple[MessageContext, Outcome]]) -> None:
        """Tell each stage with a commit hook what was committed (its errors are logged)."""
        for stage in self._hooks:
            try:
                await stage.after_commit(outcomes)
            except Exception:
                log_failure(log, "stage %s failed after the commit", stage.name)


async def _check(stage: Stage, ctx: MessageContext, batch: Batch[object], *, traced: bool) -> None:
    """One stage's verdict on one message (a failure of the stage dead-letters it).

    `traced`: in the stage's span, and the message span opens once the envelope is known.
    """
    started = time.time_ns() if traced and ctx.span is None else None
    try:
        if traced:
            with stage_span(ctx, stage.name):  # sees the rejection, to record its code
                await stage.check(ctx, batch)
        else:
            await stage.check(ctx, batch)
    except MessageRejected as rejection:
        ctx.reject(rejection, stage=stage.name)
    except Exception as exc:
        if is_transient(exc):
            raise
        log_failure(log, "stage %s failed on entry %s", stage.name, ctx.entry_id)
        ctx.dead_letter(stage=stage.name)
    if traced and ctx.span is None and (ctx.envelope is not None or ctx.verdict is not None):
        # Once parsed (or refused), the sender's trace context is known.
        start_message_span(ctx, start_time=started)
        if started is not None:
            record_stage_span(ctx, stage.name, started)
