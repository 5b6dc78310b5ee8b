"""Watchdog: a long-running SDK task that ends unexpectedly stops its owner, loudly.

Every SDK loop survives Redis errors by itself (`mas.outage`); one that dies all
the same (a bug, an unexpected error) must not leave an agent or the MAS service
running without it. The watchdog logs the death with its traceback, keeps the
error (`BackgroundTaskDied`, naming the task) and calls the owner's `on_death`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .errors import BackgroundTaskDied

__all__ = ["Watchdog"]

logger = logging.getLogger(__name__)


class Watchdog:
    """Watches the long-running tasks of one owner (an agent instance, the MAS service)."""

    def __init__(self, owner: str, on_death: Callable[[BackgroundTaskDied], None]) -> None:
        self._owner = owner
        self._on_death = on_death
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.failure: BackgroundTaskDied | None = None
        """The first death seen, if any."""
        self.died = asyncio.Event()

    def watch(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        """Watch a running task: it must not end before `close()`."""
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def close(self) -> None:
        """The owner is stopping: its tasks may end from now on."""
        self._closing = True

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._closing:
            return
        if task.cancelled():
            return  # only the owner's stop or the event loop's shutdown cancels its tasks
        cause = task.exception()
        how = f"died of {type(cause).__name__}" if cause is not None else "ended"
        error = BackgroundTaskDied(self._owner, task.get_name(), how)
        error.__cause__ = cause
        logger.error("%s", error, exc_info=cause)
        if self.failure is None:
            self.failure = error
            self.died.set()
            self._on_death(error)
