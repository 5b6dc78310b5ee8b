"""Shapes of the redis-py replies the gateway reads (the client library types them loosely)."""

from __future__ import annotations

from typing import Any, cast

__all__ = ["StreamEntries", "StreamReadReply", "read_reply"]

StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]
"""Entries of one stream: (entry id, fields)."""

StreamReadReply = list[tuple[bytes, StreamEntries]]
"""An XREAD / XREADGROUP reply: (stream name, entries) per stream."""


def read_reply(reply: Any) -> StreamReadReply:
    """Type an XREAD / XREADGROUP reply (None when the read timed out)."""
    return cast(StreamReadReply, reply or [])
