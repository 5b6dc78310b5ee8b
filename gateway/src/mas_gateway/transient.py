"""Transient Redis errors, and an outage log that speaks once when one starts and once when it ends.

A transient error says nothing about the message being processed: the server was
unreachable, too slow, still loading its data, or a replica that cannot take
writes. Work that meets one is retried with the same input; it never turns into a
refusal (500, dead letter) of a valid message.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ReadOnlyError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["TRANSIENT_ERRORS", "Outage", "is_transient"]

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,  # includes BusyLoadingError (LOADING)
    RedisTimeoutError,
    BusyLoadingError,
    ReadOnlyError,  # a failover demoted the server we were talking to
    TryAgainError,
    ClusterDownError,
)
"""Errors that end by themselves: retry the same work after a backoff."""


def is_transient(exc: BaseException) -> bool:
    """True when `exc` is a Redis error worth retrying unchanged."""
    return isinstance(exc, TRANSIENT_ERRORS)


class Outage:
    """Logs the first failure of a run of failures (warning) and the recovery (info).

    One line when Redis goes away and one when it is back, however many retries
    happen in between: an outage is visible without flooding the log.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self._what = what
        self._since: float | None = None
        self.failures = 0
        """Failures of the current outage (0: none under way)."""

    @property
    def active(self) -> bool:
        """True between a failure and the next success."""
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        """Record a failure; logs only the first of an outage."""
        self.failures += 1
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning(
                "%s: Redis unavailable (%s: %s); retrying with backoff",
                self._what,
                type(exc).__name__,
                exc,
            )

    def recovered(self) -> None:
        """Record a success; logs the end of an outage, if one was under way."""
        if self._since is None:
            return
        lasted = time.monotonic() - self._since
        self._log.info(
            "%s: Redis available again after %.1f s (%d failed attempts)",
            self._what,
            lasted,
            self.failures,
        )
        self._since = None
        self.failures = 0
