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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from mas.errors import MessageRejected
from mas.outage import is_transient

from .context import MessageContext
from .decisions import decision_for
from .delivery import Outcome
from .logsafe import log_failure
from .policy import PolicySet
from .stages.base import Batch, CommitHook, ScreeningStage, Stage
from .tracing import enabled as tracing_enabled
from .tracing import record_stage_span, stage_span, start_message_span

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class Pipeline:
    """An ordered list of stages."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)
        self.on_stage: Callable[[str, float], None] | None = None
        """Told each stage's name and seconds over each batch (metrics)."""

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
        for index, stage in enumerate(self.stages):
            if not live:
                break
            reached[index] = {id(ctx) for ctx in live}
            started = time.perf_counter()
            try:
                prepared = await stage.prepare(Batch(live, policy, None))
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

    async def _screen(
        self,
        contexts: Sequence[MessageContext],
        reached: dict[int, set[int]],
        policy: PolicySet,
    ) -> None:
        """Show each screening stage the parsed messages that stopped before it."""
        for index, stage in enumerate(self.stages):
            if not isinstance(stage, ScreeningStage):
                continue
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
        for stage in self.stages:
            if isinstance(stage, CommitHook):
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
