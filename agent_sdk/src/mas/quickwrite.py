"""Connections whose writes skip redis-py's per-write timeout task when they cannot block.

redis-py guards every write with the socket timeout through `asyncio.wait_for`,
which on Python 3.11 wraps the write in a task of its own: one task and one more
event-loop iteration per command (or pipeline). A write whose bytes fit below the
transport's high-water mark never waits (`StreamWriter.drain` returns without
suspending), so a timeout cannot fire on it; such writes go straight to the
transport. A write that could wait (a full buffer, a closing transport, a health
check due) goes redis-py's guarded way. Reads keep their timeout either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio.connection import Connection

__all__ = ["QuickWriteConnection", "quick_write_options"]


class QuickWriteConnection(Connection):
    """A TCP connection that writes without a timeout task when the write cannot block."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self._cannot_block(command):
            await super().send_packed_command(command, check_health)
            return
        # Nothing below suspends (see _cannot_block), so no other coroutine can see the
        # timeout lifted; redis-py's own error handling applies unchanged.
        timeout, self.socket_timeout = self.socket_timeout, None
        try:
            await super().send_packed_command(command, check_health)
        finally:
            self.socket_timeout = timeout

    def _cannot_block(self, command: bytes | str | Iterable[bytes]) -> bool:
        writer = self._writer
        if writer is None or not self.is_connected or self.health_check_interval:
            return False
        if not isinstance(command, list | tuple | bytes):
            return False
        transport = writer.transport
        if transport.is_closing():
            return False
        parts: Iterable[Any] = (command,) if isinstance(command, bytes) else command
        size = sum(len(part) for part in parts)
        _, high = transport.get_write_buffer_limits()
        return transport.get_write_buffer_size() + size <= high


def quick_write_options(url: str) -> dict[str, Any]:
    """Client options that use `QuickWriteConnection` for a plain ``redis://`` URL, else none.

    TLS, Unix sockets, Sentinel and Cluster keep redis-py's connection classes.
    """
    return {"connection_class": QuickWriteConnection} if urlsplit(url).scheme == "redis" else {}
