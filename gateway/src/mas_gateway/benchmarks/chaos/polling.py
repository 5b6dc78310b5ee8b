"""Waiting for a condition another process brings about: poll it until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_for"]

_INTERVAL = 0.05


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll `predicate` until true; the time.time() it became true, `TimeoutError` naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return time.time()
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(_INTERVAL)
