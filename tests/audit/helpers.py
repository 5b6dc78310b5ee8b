"""Building audit entries and tampering with the log the way an attacker with Redis access would."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.envelope import Envelope, dumps
from mas.errors import Forbidden
from mas_gateway.audit import build_audit_entry
from mas_gateway.audit.entry import append_entry
from mas_gateway.audit.streams import StreamEntry, stream_entries
from mas_gateway.context import DLPFinding, MessageContext

GATEWAY_ID = "gw-test"

SHARD = keys.ingress_shard("doctor")
"""The audit shard of the entries these helpers build (their sender is ``doctor``)."""


def make_context(
    i: int,
    *,
    sender: str = "doctor",
    target: str = "patient",
    data: dict[str, Any] | None = None,
    denied: bool = False,
) -> MessageContext:
    """A context as the pipeline leaves it for message number `i`."""
    envelope = Envelope(
        message_id=f"msg-{i:05d}",
        sender_id=sender,
        target_id=target,
        message_type="consultation.response",
        data=data if data is not None else {"note": f"visit {i}"},
    )
    ctx = MessageContext(entry_id=f"{1000 + i}-0", fields={})
    ctx.raw_envelope = dumps(envelope.model_dump(mode="json"))
    ctx.envelope = envelope
    ctx.data = dict(envelope.data)
    ctx.authz_rule = "policy.csv:3"
    ctx.policy_version = "v-test"
    if denied:
        ctx.reject(Forbidden("denied by policy"), stage="test")
    return ctx


def entry_bytes_for(i: int, **kwargs: Any) -> bytes:
    return build_audit_entry(make_context(i, **kwargs), gateway_id=GATEWAY_ID, key_id="k-test")


def dlp_context() -> MessageContext:
    ctx = make_context(1, data={"patient": {"ssn": "123-45-6789", "note": "call 555-0100"}})
    ctx.dlp_findings = [
        DLPFinding("US_SSN", "patient.ssn", 0, 11, 0.95),
        DLPFinding("PHONE_NUMBER", "patient.note", 5, 13, 0.7),
        DLPFinding("PHONE_NUMBER", "patient.note", 20, 28, 0.7),
    ]
    ctx.dlp_action = "redact"
    ctx.redacted_paths = ["patient.ssn"]
    ctx.modified = True
    return ctx


async def append_many(client: aioredis.Redis, count: int, *, start: int = 0) -> list[str]:
    """Append `count` entries built by `build_audit_entry`; return their stream ids."""
    return [
        await append_entry(client, entry_bytes_for(i), shard=SHARD)
        for i in range(start, start + count)
    ]


async def read_stream(client: aioredis.Redis, key: str) -> list[StreamEntry]:
    return stream_entries(await client.xrange(key))


def _parse_id(stream_id: str) -> tuple[int, int]:
    ms, seq = stream_id.split("-")
    return int(ms), int(seq)


async def rewrite_stream(
    client: aioredis.Redis, key: str, entries: Sequence[tuple[str | None, dict[str, bytes]]]
) -> None:
    """Replace a stream with `entries`, keeping each original id where order allows.

    This is what someone with write access to Redis can do: recreate the key with
    chosen ids (which also resets its counters).
    """
    await client.delete(key)
    last = (0, 0)
    for original, fields in entries:
        wanted = _parse_id(original) if original else (0, 0)
        chosen = wanted if wanted > last else (last[0], last[1] + 1)
        await client.xadd(key, fields, id=f"{chosen[0]}-{chosen[1]}")  # pyright: ignore[reportArgumentType]
        last = chosen


async def wait_for_redis_clock_past(client: aioredis.Redis, stream_id: str) -> float:
    """Poll the server clock until it is past `stream_id`'s millisecond; return that time."""
    ms = _parse_id(stream_id)[0]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seconds, micros = await client.time()
        now_ms = seconds * 1000 + micros // 1000
        if now_ms > ms + 1:
            return now_ms / 1000.0
    raise AssertionError("Redis clock did not advance")


__all__ = [
    "GATEWAY_ID",
    "SHARD",
    "append_many",
    "dlp_context",
    "entry_bytes_for",
    "keys",
    "make_context",
    "read_stream",
    "rewrite_stream",
    "wait_for_redis_clock_past",
]
