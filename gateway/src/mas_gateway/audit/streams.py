"""Typed views of Redis stream replies (whatever the client's decode setting)."""

from __future__ import annotations

from typing import Any

from mas.redis_text import as_text

__all__ = ["StreamEntry", "fields_of", "stream_entries"]

StreamEntry = tuple[str, dict[str, bytes]]


def fields_of(raw: Any) -> dict[str, bytes]:
    """Field names as text, values as bytes."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, bytes] = {}
    for name, value in raw.items():  # pyright: ignore[reportUnknownVariableType]
        out[as_text(name)] = value if isinstance(value, bytes) else str(value).encode("utf-8")  # pyright: ignore[reportUnknownArgumentType]
    return out


def stream_entries(reply: Any) -> list[StreamEntry]:
    """An XRANGE / XREVRANGE reply (or one stream of an XREAD reply) as (id, fields) pairs."""
    return [(as_text(sid), fields_of(fields)) for sid, fields in reply or []]  # pyright: ignore[reportUnknownVariableType]
