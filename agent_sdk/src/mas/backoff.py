"""Backoff: the capped exponential delay every MAS loop waits after an error."""

from __future__ import annotations

import asyncio

__all__ = ["Backoff"]


class Backoff:
    """Waits 0.1 s, then twice as long after each consecutive failure, up to `cap`."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self._first = first
        self._cap = cap
        self.delay = first
        self.failures = 0
        """Consecutive failures so far (0 after a success)."""

    def reset(self) -> None:
        """Back to the first delay after a success."""
        self.delay = self._first
        self.failures = 0

    def step(self) -> float:
        """Count a failure; return the delay to wait now (the next one doubles, up to the cap)."""
        self.failures += 1
        delay = self.delay
        self.delay = min(self.delay * 2, self._cap)
        return delay

    async def wait(self) -> None:
        """Sleep the current delay, then double it (up to the cap)."""
        await asyncio.sleep(self.step())
