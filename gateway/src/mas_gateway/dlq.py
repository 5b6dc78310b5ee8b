"""Dead letters: list what failed and why, and replay agent-side dead letters.

Each agent dead-letters into its own stream (``agent.dlq:{id}``) the deliveries
that kept failing, failed their handler's model, had no handler, or were not
signed by the gateway. Replaying puts such a delivery back into that agent's
inbox only if it still carries a valid signature by a gateway key the operator
pinned and is addressed to that agent, so a letter an agent forged into its own
dead-letter stream is never re-injected. The gateway's own dead letters
(``mas.dlq``, internal errors) hold metadata only, never a payload or a token:
they cannot be replayed, the sender resubmits.

A dead letter is named ``<owner>/<entry id>``, the owner being the agent id, or
``gateway`` for the gateway's stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas import keys
from mas.envelope import decode_fields, parse_delivered, verify_delivery
from mas.errors import SignatureError
from mas.provisioning import known_agents
from mas.records import is_valid_agent_id
from mas.redis_text import as_text

from .redis_types import StreamEntries

__all__ = [
    "GATEWAY_OWNER",
    "DeadLetter",
    "ReplayError",
    "list_dead_letters",
    "replay_dead_letter",
]

GATEWAY_OWNER = "gateway"
_META_PREFIX = "dlq_"


class ReplayError(Exception):
    """A dead letter cannot be replayed; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: whose, why, and the message it holds."""

    owner: str
    entry_id: str
    reason: str
    error: str | None
    message_id: str | None
    message_type: str | None
    sender_id: str | None
    fields: dict[str, bytes]
    envelope_sha256: str | None = None
    """For the gateway's letters, which hold no envelope: its digest and size."""
    envelope_bytes: int | None = None

    @property
    def name(self) -> str:
        """``<owner>/<entry id>``, as `mas dlq replay` takes it."""
        return f"{self.owner}/{self.entry_id}"

    @property
    def replayable(self) -> bool:
        """Only deliveries an agent dead-lettered can go back to that agent."""
        return self.owner != GATEWAY_OWNER

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no payload)."""
        return {
            "id": self.name,
            "owner": self.owner,
            "reason": self.reason,
            "error": self.error,
            "message_id": self.message_id,
            "message_type": self.message_type,
            "sender": self.sender_id,
            "replayable": self.replayable,
            "envelope_sha256": self.envelope_sha256,
            "envelope_bytes": self.envelope_bytes,
        }


def _stream_of(owner: str) -> str:
    return keys.DLQ if owner == GATEWAY_OWNER else keys.agent_dlq(owner)


def _claimed(fields: dict[str, bytes]) -> dict[str, Any]:
    """Envelope fields as the letter claims them (for display only, never trusted)."""
    raw = fields.get("envelope")
    try:
        parsed = json.loads(raw) if raw else {}
    except (ValueError, UnicodeDecodeError):
        parsed = {}
    out = parsed if isinstance(parsed, dict) else {}
    for name, meta_name in (("message_id", "message_id"), ("sender_id", "sender")):
        meta = fields.get(f"{_META_PREFIX}{meta_name}")
        if meta is not None and name not in out:
            out[name] = as_text(meta)
    return out


def _letter(owner: str, entry_id: bytes | str, raw: dict[Any, Any]) -> DeadLetter:
    fields = decode_fields(raw)
    claimed = _claimed(fields)

    def text(name: str) -> str | None:
        value = fields.get(name)
        return as_text(value) if value is not None else None

    def field(name: str) -> str | None:
        value = claimed.get(name)
        return value if isinstance(value, str) else None

    return DeadLetter(
        owner=owner,
        entry_id=as_text(entry_id),
        reason=text("dlq_reason") or "",
        error=text("dlq_error"),
        message_id=field("message_id"),
        message_type=field("message_type"),
        sender_id=field("sender_id"),
        fields=fields,
        envelope_sha256=text("dlq_envelope_sha256"),
        envelope_bytes=_size(text("dlq_envelope_bytes")),
    )


def _size(value: str | None) -> int | None:
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


async def list_dead_letters(client: aioredis.Redis, *, count: int = 100) -> list[DeadLetter]:
    """The oldest `count` dead letters of the gateway and of each agent."""
    owners = [GATEWAY_OWNER, *await known_agents(client)]
    async with client.pipeline(transaction=False) as pipe:
        for owner in owners:
            pipe.xrange(_stream_of(owner), count=count)
        replies = cast(list[StreamEntries], await pipe.execute())
    letters = [
        _letter(owner, entry_id, raw)
        for owner, reply in zip(owners, replies, strict=True)
        for entry_id, raw in reply
    ]
    letters.sort(key=lambda letter: _sort_key(letter.entry_id))
    return letters[:count]


def _sort_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _parse_name(name: str) -> tuple[str, str]:
    owner, sep, entry_id = name.rpartition("/")
    if not sep or not entry_id or not (owner == GATEWAY_OWNER or is_valid_agent_id(owner)):
        raise ReplayError(f"{name!r} is not a dead-letter name (<agent id>/<entry id>)")
    return owner, entry_id


async def replay_dead_letter(
    client: aioredis.Redis, name: str, trusted: dict[str, Ed25519PublicKey]
) -> str:
    """Put a dead letter back into its agent's inbox and remove it; return the new entry id.

    Raises:
        ReplayError: no such letter, a gateway letter, or a delivery that is not signed
            by a trusted gateway key for this agent.
    """
    owner, entry_id = _parse_name(name)
    reply = cast(StreamEntries, await client.xrange(_stream_of(owner), entry_id, entry_id))
    if not reply:
        raise ReplayError(f"no dead letter {name}")
    letter = _letter(owner, *reply[0])
    if not letter.replayable:
        raise ReplayError(
            f"dead letter {name} was written by the gateway (an internal error) and holds no "
            "message; the sender must resubmit"
        )
    original = {k: v for k, v in letter.fields.items() if not k.startswith(_META_PREFIX)}
    try:
        delivery = parse_delivered(verify_delivery(original, trusted), original)
    except SignatureError as exc:
        raise ReplayError(f"dead letter {name} is not a gateway-signed delivery: {exc}") from exc
    if delivery.envelope.target_id != owner:
        raise ReplayError(f"dead letter {name} is a delivery to another agent; not replayed")
    async with client.pipeline(transaction=True) as pipe:
        pipe.xadd(keys.agent_stream(owner), original)  # type: ignore[arg-type]
        pipe.xdel(_stream_of(owner), entry_id)
        new_id, _deleted = await pipe.execute()
    return as_text(new_id)
