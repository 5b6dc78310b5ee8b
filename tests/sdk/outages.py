"""Real Redis outages for tests: writes paused (timeouts), a read-only replica, and their logs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mas.redis_connect import connect_redis
from mas_gateway.embedded_redis import free_port

OUTAGE_FAST = {
    "heartbeat_interval": 0.2,
    "heartbeat_ttl": 5.0,
    "block_ms": 50,
    "claim_idle": 5.0,
    "stop_timeout": 5.0,
    "socket_timeout": 0.5,
}
"""Agent options for outage tests: commands time out quickly, leases outlast the outage."""


@contextlib.asynccontextmanager
async def writes_paused(admin_url: str) -> AsyncIterator[None]:
    """Redis holds every write command until the block ends (clients time out meanwhile)."""
    admin = connect_redis(admin_url)
    await admin.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        yield
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
        await admin.aclose()


@contextlib.asynccontextmanager
async def read_only(admin_url: str) -> AsyncIterator[None]:
    """Redis is a replica (of a master that does not exist) until the block ends: READONLY."""
    admin = connect_redis(admin_url)
    await admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
    try:
        yield
    finally:
        await admin.execute_command("REPLICAOF", "NO", "ONE")
        await admin.aclose()


def logged(caplog: pytest.LogCaptureFixture, logger: str, *words: str) -> int:
    """How many records of `logger` contain every one of `words`."""
    return sum(
        1
        for record in caplog.records
        if record.name == logger and all(word in record.getMessage() for word in words)
    )


def outages_logged(caplog: pytest.LogCaptureFixture, logger: str, what: str) -> int:
    """How many outages of `what` were logged, each with one start line and one end line.

    Fails if an outage was logged twice before it ended, or ended without starting:
    an outage is logged once however many attempts fail. A loaded machine may time
    out a later command and start a second outage; that one must pair up too.
    """
    lines = [
        "start" if "unavailable" in record.getMessage() else "end"
        for record in caplog.records
        if record.name == logger
        and what in record.getMessage()
        and ("unavailable" in record.getMessage() or "reachable again" in record.getMessage())
    ]
    assert lines[0::2] == ["start"] * len(lines[0::2]), lines
    assert lines[1::2] == ["end"] * len(lines[1::2]), lines
    assert len(lines) % 2 == 0, f"the last outage of {what} never ended: {lines}"
    return len(lines) // 2


def expect_log(
    caplog: pytest.LogCaptureFixture, logger: str, *words: str
) -> Callable[[], Awaitable[bool]]:
    """An awaitable predicate for `wait_until`: a record of `logger` with `words` exists."""

    async def found() -> bool:
        return logged(caplog, logger, *words) > 0

    return found
