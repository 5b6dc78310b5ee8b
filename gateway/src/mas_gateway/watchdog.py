"""Watchdog: a background loop that must run forever and ends is a failure, never silence.

Every long-running task of a process is watched. When one ends while the process
is not stopping (an exception escaped its own retry handling, or it returned), the
watchdog logs it at CRITICAL, records why, and wakes `wait_failed`: the command
line exits non-zero so that a supervisor restarts the process, and readiness
reports the failure meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)


class Watchdog:
    """Watches the long-running tasks of one component."""

    def __init__(self, component: str) -> None:
        self._component = component
        self._failed = asyncio.Event()
        self._stopping = False
        self.failure: str | None = None
        """Why the component is broken (the first loop that ended), None while all run."""

    def watch(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start `coro` as a watched task called `name`."""
        return self.adopt(asyncio.create_task(coro, name=name))

    def adopt(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        """Watch a task started elsewhere."""
        self._stopping = False
        task.add_done_callback(self._ended)
        return task

    def stopping(self) -> None:
        """From now on tasks are expected to end (the component is shutting down)."""
        self._stopping = True

    async def wait_failed(self) -> str:
        """Return the failure once a watched task ended unexpectedly."""
        await self._failed.wait()
        assert self.failure is not None
        return self.failure

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if self._stopping:
            return
        if task.cancelled():
            why = "was cancelled"
        elif (exc := task.exception()) is not None:
            why = f"died: {type(exc).__name__}: {exc}"
        else:
            why = "returned"
        failure = f"{self._component} loop {task.get_name()} {why}"
        log.critical("%s; the process must be restarted", failure)
        if self.failure is None:
            self.failure = failure
        self._failed.set()
