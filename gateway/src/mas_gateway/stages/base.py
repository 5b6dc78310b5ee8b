"""The contract every pipeline stage follows.

A stage is built once from immutable configuration and keeps no per-batch state.
For each batch the pipeline calls `prepare` once (one Redis round trip or one NLP
pass for the whole batch) and keeps what it returns in the `Batch`; then `check`
once per message, which returns (the message goes on), raises a `MessageRejected`
subclass (the message stops with that code), or sets a verdict on the context
(`ctx.park(...)`, `ctx.reject(...)`). Any other exception dead-letters that one
message with 500: the gateway fails closed. Every stage of a batch sees the same
policy version, `batch.policy`.

Optional hooks: `screen` (see messages rejected before the stage) and
`after_commit` (see the committed outcome of the messages the stage checked).

A stage whose `prepare` reads Redis before it does anything else (`LookupStage`)
can have those reads sent ahead: the pipeline queues the reads of every such stage
still to come in one round trip, for the messages still live, and hands each its
decoded replies as `batch.fetched`; the stage then works from those (its messages
are a subset).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from ..context import MessageContext

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from redis.asyncio.client import Pipeline as RedisPipeline

    from ..delivery import Outcome
    from ..policy import PolicySet

__all__ = ["Batch", "CommitHook", "Decode", "LookupStage", "ScreeningStage", "Stage", "look_up"]

P = TypeVar("P")


@dataclass(frozen=True)
class Batch(Generic[P]):
    """The messages a stage sees in one batch, the policy in force for all, its prepared data."""

    contexts: Sequence[MessageContext]
    policy: PolicySet
    prepared: P
    fetched: Any = None
    """For a `LookupStage`'s `prepare`: its reads' decoded replies, when sent ahead."""


@runtime_checkable
class Stage(Protocol):
    """One step of the pipeline."""

    name: str

    async def prepare(self, batch: Batch[None]) -> Any:
        """Work for the whole batch at once; the result is `batch.prepared` in `check`."""
        ...

    async def check(self, ctx: MessageContext, batch: Batch[Any]) -> None:
        """Return to let the message through; raise `MessageRejected` (or set a verdict)."""
        ...


@runtime_checkable
class ScreeningStage(Stage, Protocol):
    """A stage that also looks at messages rejected before they reached it."""

    screened_fields: ClassVar[tuple[str, ...]]
    """Envelope fields withheld from every record when screening fails (fail closed)."""

    async def screen(self, batch: Batch[None]) -> None:
        """Record what the stage must know of messages it will not check (no verdict)."""
        ...


@runtime_checkable
class CommitHook(Stage, Protocol):
    """A stage that learns what was committed for the messages it checked."""

    async def after_commit(self, outcomes: Sequence[tuple[MessageContext, Outcome]]) -> None:
        """Called after the batch's commit with each checked message and its outcome."""
        ...


Decode = Callable[[list[Any]], Any]
"""Turns the replies of the reads a stage queued into its lookups."""


@runtime_checkable
class LookupStage(Stage, Protocol):
    """A stage whose `prepare` starts with Redis reads, which can be sent ahead."""

    client: aioredis.Redis

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: RedisPipeline) -> Decode:
        """Queue the reads `contexts` need on `pipe`; returns the decoder of their replies."""
        ...


async def look_up(stage: LookupStage, batch: Batch[None]) -> Any:
    """The stage's lookups for the batch: those sent ahead, else read now in one round trip."""
    if batch.fetched is not None:
        return batch.fetched
    async with stage.client.pipeline(transaction=False) as pipe:
        decode = stage.queue_reads(batch.contexts, pipe)
        return decode(await pipe.execute())
