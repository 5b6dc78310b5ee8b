"""The dead-letter stream: list what failed and why, and replay agent-side dead letters.

Agents dead-letter deliveries that kept failing, that failed their handler's model,
that had no handler, or that were not signed by the gateway. Replaying puts the
original, still gateway-signed entry back into the agent's stream, so the agent
checks and handles it like any other delivery (an unsigned or forged one is
dead-lettered again). Dead letters the gateway wrote (internal errors) hold only
metadata (claimed sender, message id, SHA-256 and size of the envelope), never the
unscanned payload or the bearer token, so they cannot be replayed: the sender must
resubmit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from mas import keys
from mas.redis_text import as_text

from .redis_types import StreamEntries

__all__ = ["DeadLetter", "ReplayError", "list_dead_letters", "replay_dead_letter"]

_META_PREFIX = "dlq_"


class ReplayError(Exception):
    """A dead letter cannot be replayed; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: where it came from, why, and the message it holds."""

    entry_id: str
    source: str
    stream: str
    reason: str
    error: str | None
    message_id: str | None
    message_type: str | None
    sender_id: str | None
    fields: dict[str, bytes]
    envelope_sha256: str | None = None
    envelope_bytes: int | None = None

    @property
    def replayable(self) -> bool:
        """Only deliveries dead-lettered by an agent go back to that agent's stream."""
        return self.stream.startswith("agent.stream:")

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no payload)."""
        return {
            "id": self.entry_id,
            "source": self.source,
            "stream": self.stream,
            "reason": self.reason,
            "error": self.error,
            "message_id": self.message_id,
            "message_type": self.message_type,
            "sender": self.sender_id,
            "replayable": self.replayable,
            "envelope_sha256": self.envelope_sha256,
            "envelope_bytes": self.envelope_bytes,
        }


def _envelope_fields(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _letter(entry_id: bytes | str, raw: dict[bytes, bytes]) -> DeadLetter:
    fields = {as_text(k): v for k, v in raw.items()}
    envelope = _envelope_fields(fields.get("envelope"))

    def text(name: str) -> str | None:
        value = fields.get(name)
        return as_text(value) if value is not None else None

    def claimed(name: str) -> str | None:
        value = envelope.get(name)
        return value if isinstance(value, str) else None

    return DeadLetter(
        entry_id=as_text(entry_id),
        source=text("dlq_source") or "",
        stream=text("dlq_stream") or "",
        reason=text("dlq_reason") or "",
        error=text("dlq_error"),
        message_id=claimed("message_id") or text("dlq_message_id"),
        message_type=claimed("message_type"),
        sender_id=claimed("sender_id") or text("dlq_sender"),
        fields=fields,
        envelope_sha256=text("dlq_envelope_sha256"),
        envelope_bytes=_size(text("dlq_envelope_bytes")),
    )


def _size(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


async def list_dead_letters(client: aioredis.Redis, *, count: int = 100) -> list[DeadLetter]:
    """The oldest `count` dead letters."""
    reply = cast(StreamEntries, await client.xrange(keys.DLQ, count=count))
    return [_letter(entry_id, raw) for entry_id, raw in reply]


async def replay_dead_letter(client: aioredis.Redis, entry_id: str) -> str:
    """Put a dead letter back into its agent's stream and remove it from the DLQ.

    Returns the new stream entry id. Raises `ReplayError` when the entry does not
    exist or is not replayable.
    """
    reply = cast(StreamEntries, await client.xrange(keys.DLQ, entry_id, entry_id))
    if not reply:
        raise ReplayError(f"no dead letter {entry_id}")
    letter = _letter(*reply[0])
    if not letter.replayable:
        raise ReplayError(
            f"dead letter {entry_id} came from {letter.source or 'an unknown source'}; "
            "only deliveries an agent dead-lettered can be replayed (the sender must resubmit)"
        )
    original = {k: v for k, v in letter.fields.items() if not k.startswith(_META_PREFIX)}
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(letter.stream, original)  # type: ignore[arg-type]
        pipe.xdel(keys.DLQ, entry_id)
        new_id, _deleted = await pipe.execute()
    return as_text(new_id)
