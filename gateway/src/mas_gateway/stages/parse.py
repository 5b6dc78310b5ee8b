"""First stage: the outbox entry must hold a well-formed envelope (else 400)."""

from __future__ import annotations

from mas.envelope import parse_envelope
from mas.errors import MalformedMessage

from ..context import MessageContext
from .base import Batch

__all__ = ["ParseStage"]

REQUIRED_FIELDS = ("envelope", "signature", "token")


class ParseStage:
    """Checks the entry's fields and parses the envelope into the context."""

    name = "parse"

    def __init__(self, *, max_envelope_bytes: int) -> None:
        self._max = max_envelope_bytes

    async def prepare(self, batch: Batch[None]) -> None:
        """Nothing to do for the whole batch."""

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        """Fill `ctx.envelope` and `ctx.data`; raise `MalformedMessage` naming the problem."""
        missing = [name for name in REQUIRED_FIELDS if not ctx.fields.get(name)]
        if missing:
            raise MalformedMessage(f"submission lacks field(s): {', '.join(missing)}")
        raw = ctx.fields["envelope"]
        if len(raw) > self._max:
            raise MalformedMessage(f"envelope is {len(raw)} bytes; the limit is {self._max} bytes")
        envelope = parse_envelope(raw)
        claimed = ctx.fields.get("agent_id")
        if claimed is not None and claimed.decode("utf-8", "replace") != envelope.sender_id:
            raise MalformedMessage(
                "agent_id field does not match the envelope's sender_id",
                message_id=envelope.message_id,
            )
        ctx.raw_envelope = raw
        ctx.envelope = envelope
        ctx.data = envelope.data
