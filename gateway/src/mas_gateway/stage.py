"""The contract every pipeline stage follows.

A stage inspects a `MessageContext`, may annotate or redact it, and either returns
(the message goes on) or raises a `MessageRejected` subclass (the message stops
there and the sender gets a signed rejection notice). Any other exception is
treated as a rejection too: the gateway fails closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from .context import MessageContext

__all__ = ["BatchStage", "ScreeningStage", "Stage"]


@runtime_checkable
class Stage(Protocol):
    """One step of the pipeline."""

    name: str

    async def check(self, ctx: MessageContext) -> None:
        """Return to let the message through; raise `MessageRejected` to stop it."""
        ...


@runtime_checkable
class BatchStage(Stage, Protocol):
    """A stage that can do work for a whole batch at once before `check` runs per message."""

    async def prepare(self, batch: Sequence[MessageContext]) -> None:
        """Pre-compute results for every context of the batch (e.g. one NLP pass)."""
        ...


@runtime_checkable
class ScreeningStage(Stage, Protocol):
    """A stage that also looks at messages rejected before they reached it."""

    screened_fields: ClassVar[tuple[str, ...]]
    """Envelope fields withheld from every record when screening fails (fail closed)."""

    async def screen(self, batch: Sequence[MessageContext]) -> None:
        """Record what the stage must know of messages it will not check (no rejection)."""
        ...
