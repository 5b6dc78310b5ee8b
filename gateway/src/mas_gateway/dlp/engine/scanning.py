"""RuleScanner: scan payloads with one engine, in worker processes or in-process.

Clean payloads are settled in this process by the pre-screen; the rest go to the
worker processes when they run (started in the background, so a new set of rules
is usable at once), else they are analysed in-process. A pool whose workers keep
dying is given up for in-process scanning. Results are cached by payload.

The pre-screen of a small batch runs on the event loop: a thread hop (and the
contention for the interpreter lock it brings) costs more than screening a few
kilobytes. Past `INLINE_SCREEN_BYTES` it runs in a thread, so that a large payload
does not stall claims, audit or reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from .engine import DLPEngine
from .results import ScanResult
from .workers import BrokenProcessPool, WorkerPool

__all__ = ["RuleScanner"]

log = logging.getLogger(__name__)

_MAX_POOL_FAILURES = 3

INLINE_SCREEN_BYTES = 64 * 1024
"""Batches up to this size (as the caller measures it) are pre-screened on the event loop."""


class RuleScanner:
    """Scans for one set of DLP rules (one engine), with its own worker processes."""

    def __init__(self, engine: DLPEngine, *, workers: int | None = None) -> None:
        self.engine = engine
        count = engine.policy.engine.workers if workers is None else workers
        self.pool = WorkerPool(engine.policy, count) if count > 0 else None
        self._pool_ready = False
        self._pool_failures = 0
        self._lock = asyncio.Lock()
        self._starting: asyncio.Task[None] | None = None

    @property
    def workers_running(self) -> bool:
        """True while the worker processes take the scans."""
        return self.pool is not None and self._pool_ready

    @property
    def digest(self) -> str:
        """The rules' digest."""
        return self.engine.policy.digest

    async def start(self, *, wait_for_workers: bool = True) -> None:
        """Warm up; start the workers (waiting for them, or not: scans run in-process meanwhile)."""
        if self.pool is None:
            await asyncio.to_thread(self.engine.warm_up)
            return
        # The pre-screen runs here: load what it needs (the name lexicon) now.
        await asyncio.to_thread(self.engine.warm_up_triage)
        self._starting = asyncio.create_task(self._start_pool(), name="dlp-workers")
        if wait_for_workers:
            await self._starting

    async def _start_pool(self) -> None:
        assert self.pool is not None
        try:
            await self.pool.start()
        except (BrokenProcessPool, TimeoutError):
            self._pool_broken()
            return
        self._pool_ready = True

    def _pool_broken(self) -> None:
        self._pool_failures += 1
        self._pool_ready = False
        if self.pool is not None:
            self.pool.reset()
        if self._pool_failures >= _MAX_POOL_FAILURES and self.pool is not None:
            log.error("DLP worker processes keep failing; scanning in-process from now on")
            self.pool = None
        else:
            log.error("a DLP worker process died; scanning in-process until it is back")
            self._starting = asyncio.create_task(self._start_pool(), name="dlp-workers")

    async def aclose(self) -> None:
        """Stop the worker processes."""
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        if self.pool is not None:
            await asyncio.to_thread(self.pool.close)

    async def scan(
        self, payloads: Sequence[Any], fresh: Sequence[Any] = (), *, size: int | None = None
    ) -> list[ScanResult]:
        """Scans of `payloads` (cached), then of `fresh` (never cached), in one pass.

        `size`: bytes the caller knows the batch to hold at most (None: unknown, large).
        """
        cache = self.engine.cache
        keys = [cache.key(p) for p in payloads]
        results: list[ScanResult | None] = [cache.get(k) for k in keys]
        results += [None if item else ScanResult() for item in fresh]
        everything = [*payloads, *fresh]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            todo = [everything[i] for i in missing]
            scanned = await self._scan_uncached(todo, size)
            for i, scan in zip(missing, scanned, strict=True):
                results[i] = scan
                if i < len(keys):
                    cache.put(keys[i], scan)
        return [r if r is not None else ScanResult(error="not scanned") for r in results]

    async def _scan_uncached(self, payloads: list[Any], size: int | None) -> list[ScanResult]:
        if self.pool is not None and self._pool_ready:
            if size is not None and size <= INLINE_SCREEN_BYTES:
                settled = self.engine.triage(payloads)
            else:  # off the event loop: a large payload must not stall claims, audit or reads
                settled = await asyncio.to_thread(self.engine.triage, payloads)
            todo = [i for i, r in enumerate(settled) if r is None]
            try:
                analysed = await self.pool.scan([payloads[i] for i in todo])
            except BrokenProcessPool:
                self._pool_broken()
            else:
                for i, scan in zip(todo, analysed, strict=True):
                    settled[i] = scan
                return [r if r is not None else ScanResult(error="not scanned") for r in settled]
        async with self._lock:
            return await asyncio.to_thread(self.engine.scan_uncached, payloads)
