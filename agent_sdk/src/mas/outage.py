"""Transient Redis errors, and the log of an outage: a warning when it starts, a line at its end.

Every long-running SDK task and every retried write uses these, so an outage of
Redis (connection lost, timeouts, a server still LOADING its data, a READONLY
replica after a failover) is survived with capped backoff and logged once,
not once per attempt.
"""

from __future__ import annotations

import logging
import re
import time

from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .backoff import Backoff

__all__ = ["Outage", "ReplicasBehind", "is_transient"]

_TRANSIENT_REPLIES = ("LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")
"""Error replies of a server that is starting, failing over or resharding."""


class ReplicasBehind(RedisError):
    """Fewer replicas than asked acknowledged a write within the timeout (`mas.replication`).

    Transient: replicas catch up, or Sentinel replaces a dead one.
    """

    def __init__(self, acknowledged: int, wanted: int, timeout_ms: int) -> None:
        super().__init__(
            f"{acknowledged} of {wanted} replica(s) acknowledged the write within {timeout_ms} ms"
        )
        self.acknowledged = acknowledged
        self.wanted = wanted


def is_transient(exc: BaseException) -> bool:
    """True for Redis errors that go away by themselves; refused credentials are not."""
    if isinstance(exc, AuthenticationError | AuthorizationError):
        return False
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | BusyLoadingError | ReadOnlyError):
        return True
    if isinstance(exc, ResponseError):
        return str(exc).startswith(_TRANSIENT_REPLIES)
    if isinstance(exc, ReplicasBehind):
        return True
    return isinstance(exc, OSError | TimeoutError) and not isinstance(exc, RedisError)


_PIPELINE_ERROR = re.compile(r"^Command # (\d+) \(.*\) of pipeline caused error: (.*)$", re.S)
"""redis-py names a failed pipeline command with its arguments (payloads, tokens)."""


def describe(exc: BaseException) -> str:
    """The error's class and first line, without the arguments of a failed pipeline command."""
    text = str(exc)
    pipeline = _PIPELINE_ERROR.match(text)
    if pipeline is not None:
        text = f"pipeline command #{pipeline.group(1)}: {pipeline.group(2)}"
    text = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Outage:
    """The state of one task's (or one component's) Redis outage.

    `failed()` warns once when an outage starts and waits the backoff delay;
    `recovered()` logs its end, with its length, and resets the backoff. Shared
    by concurrent callers, it still logs each outage once.
    """

    def __init__(self, what: str, logger: logging.Logger, *, cap: float = 5.0) -> None:
        self.what = what
        self._logger = logger
        self.backoff = Backoff(cap=cap)
        self._since: float | None = None

    @property
    def active(self) -> bool:
        """True between the first failure and the next success."""
        return self._since is not None

    def note(self, exc: BaseException) -> None:
        """Record a failure without waiting (warns if it starts an outage)."""
        if self._since is None:
            self._since = time.monotonic()
            self._logger.warning(
                "%s: Redis unavailable (%s); retrying with backoff", self.what, describe(exc)
            )

    async def failed(self, exc: BaseException) -> None:
        """Record a failure, then wait the backoff delay."""
        self.note(exc)
        await self.backoff.wait()

    def recovered(self) -> None:
        """Record a success: logs the end of an outage, if one was going on."""
        if self._since is not None:
            lasted = time.monotonic() - self._since
            self._since = None
            self._logger.info("%s: Redis reachable again after %.1f s", self.what, lasted)
        self.backoff.reset()
