"""Coalescer: requests made while one round trip is in flight share the next one.

A lone request goes to Redis at once, carried out by its caller (no timer, no
task, no added latency); requests made while a round trip is in flight wait for
it and then go together. Under
load one round trip carries many requests; when idle, each goes alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]
"""Carries out a list of requests; one result or exception per request, in order."""


class Coalescer(Generic[T, R]):
    """Runs `flush` over the requests that queued up while the previous flush ran."""

    def __init__(self, flush: Flush[T, R], *, name: str, max_items: int = 256) -> None:
        self._flush = flush
        self._name = name
        self._max = max_items
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    async def submit(self, item: T) -> R:
        """Carry out `item` with whatever else is waiting; its result, or its exception.

        When nothing is in flight the caller carries out its own request. Otherwise
        the request waits for the next flush; a caller cancelled before that flush
        took it withdraws it, once taken it is carried out even though nobody waits.
        """
        if self._busy:
            future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            self._queue.append((item, future))
            return await future
        self._busy = True
        try:
            (result,) = await self._flush([item])
        finally:
            if self._queue:  # those who came meanwhile go together, in a task of their own
                self._task = asyncio.create_task(self._drain(), name=self._name)
            else:
                self._busy = False
        if isinstance(result, BaseException):
            raise result
        return result

    async def _drain(self) -> None:
        try:
            while self._queue:
                taken = self._queue[: self._max]
                del self._queue[: self._max]
                batch = [(item, future) for item, future in taken if not future.done()]
                if batch:
                    await self._run(batch)
        finally:
            self._task = None
            self._busy = False
            if self._queue:  # cancelled: whoever still waits is told
                for _, future in self._queue:
                    future.cancel()
                self._queue.clear()

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
