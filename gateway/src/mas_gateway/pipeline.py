"""Run a batch of contexts through the ordered stages; decide each message's fate.

Stages run stage by stage over the batch (so a stage can batch its Redis round
trips or its NLP work); a message stops at the first stage that rejects it. Any
unexpected exception rejects the message with code 500 and dead-letters it: the
gateway fails closed and loses nothing. A stage that can `screen` messages is then
shown those with a parsed envelope that stopped before reaching it (DLP scans their
envelope fields, so that none is recorded unscanned).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mas.errors import MessageRejected

from .context import MessageContext
from .decisions import decision_for
from .logsafe import log_failure
from .stage import BatchStage, ScreeningStage, Stage
from .tracing import stage_span, start_message_span

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class Pipeline:
    """An ordered list of stages."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)

    def names(self) -> list[str]:
        """Stage names in order."""
        return [stage.name for stage in self.stages]

    async def run(self, batch: Sequence[MessageContext]) -> None:
        """Run every stage over the batch; sets `rejection` and `decision` on each context."""
        live = list(batch)
        reached: dict[int, set[int]] = {}
        for index, stage in enumerate(self.stages):
            if not live:
                break
            reached[index] = {id(ctx) for ctx in live}
            if isinstance(stage, BatchStage):
                try:
                    await stage.prepare(live)
                except Exception:
                    log_failure(log, "stage %s failed to prepare a batch; rejecting it", stage.name)
                    for ctx in live:
                        _fail(ctx, stage.name)
                    live = []
                    break
            for ctx in live:
                try:
                    if index == 0:
                        await stage.check(ctx)
                    else:
                        with stage_span(ctx, stage.name):
                            await stage.check(ctx)
                except MessageRejected as rejection:
                    ctx.rejection = rejection
                    ctx.annotations["stage"] = stage.name
                except Exception:
                    log_failure(log, "stage %s failed on entry %s", stage.name, ctx.entry_id)
                    _fail(ctx, stage.name)
                if index == 0:
                    start_message_span(ctx)  # the first stage parses the sender's trace context
            live = [ctx for ctx in live if ctx.rejection is None]
        await self._screen(batch, reached)
        for ctx in batch:
            ctx.decision = decision_for(ctx)

    async def _screen(self, batch: Sequence[MessageContext], reached: dict[int, set[int]]) -> None:
        """Show each screening stage the parsed messages that stopped before it."""
        for index, stage in enumerate(self.stages):
            if not isinstance(stage, ScreeningStage):
                continue
            seen = reached.get(index, set())
            missed = [c for c in batch if c.envelope is not None and id(c) not in seen]
            if not missed:
                continue
            try:
                await stage.screen(missed)
            except Exception:
                log_failure(log, "stage %s failed to screen rejected messages", stage.name)
                for ctx in missed:
                    ctx.withheld.update(stage.screened_fields)


def _fail(ctx: MessageContext, stage: str) -> None:
    reason = f"internal gateway error in stage {stage}; the message was dead-lettered"
    ctx.rejection = MessageRejected(500, reason, message_id=ctx.message_id)
    ctx.annotations["stage"] = stage
    ctx.annotations["dead_letter"] = reason
