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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from ..context import MessageContext

if TYPE_CHECKING:
    from ..delivery import Outcome
    from ..policy import PolicySet

__all__ = ["Batch", "CommitHook", "ScreeningStage", "Stage"]

P = TypeVar("P")


@dataclass(frozen=True)
class Batch(Generic[P]):
    """The messages a stage sees in one batch, the policy in force for all, its prepared data."""

    contexts: Sequence[MessageContext]
    policy: PolicySet
    prepared: P


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
