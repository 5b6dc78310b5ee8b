"""Scanning in worker processes, so that every core analyses messages.

Each worker receives the parsed rules (never re-reads a file), loads the spaCy
pipeline once (in its initializer) and
scans lists of payloads; results travel back as `ScanResult` (types, locations,
offsets and scores, no values). Workers are started with the ``spawn`` method, so
a gateway process with threads and an event loop never forks.

Warning: as with any ``spawn`` pool, a script that starts a gateway with DLP workers
must guard its entry point with ``if __name__ == "__main__":``; without it the
workers cannot start, and the stage falls back to scanning in-process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..loading.policy import DLPPolicy
from . import pattern_set
from .engine import DLPEngine
from .results import ScanResult

__all__ = ["BrokenProcessPool", "WorkerPool"]

_ENGINE: DLPEngine | None = None


def _exit_with_parent() -> None:
    """Exit as soon as the gateway process is gone, however it ended.

    A pool worker holds both ends of its task queue's pipe, so it never sees the end of
    file a dead parent would leave; and it ignores SIGTERM (below). Without this watch a
    gateway killed by a signal would leave its workers running for ever.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - a pool worker always has a parent
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="mas-dlp-parent-watch", daemon=True).start()


def _init_worker(policy: DLPPolicy, databases: list[Any]) -> None:
    global _ENGINE
    # The gateway process decides when workers stop (it closes the pool on shutdown);
    # a Ctrl-C or SIGTERM sent to the whole process group must not kill them mid-scan.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _exit_with_parent()
    pattern_set.preload(databases)  # the parent's compiled pre-screen, not compiled again
    _ENGINE = DLPEngine(policy)  # the parent's validated rules, not a file read again
    _ENGINE.cache.size = 0  # the parent caches; a worker sees only misses (and skips the cache)
    _ENGINE.warm_up()


def _scan(payloads: Sequence[Any]) -> list[ScanResult]:
    if _ENGINE is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("DLP worker used before its engine loaded")
    return _ENGINE.scan_uncached(payloads)


def _ready() -> int:
    time.sleep(0.05)  # hold this worker so that the others take the next probes
    return os.getpid()


class WorkerPool:
    """A pool of scanning processes for one set of DLP rules."""

    def __init__(self, policy: DLPPolicy, workers: int) -> None:
        self.policy = policy
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.policy, pattern_set.compiled_databases()),
            )
        return self._pool

    async def start(self, timeout: float = 300.0) -> None:
        """Start every worker and wait until each has loaded its engine.

        Raises:
            BrokenProcessPool: a worker failed to start.
            TimeoutError: not every worker answered within `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        pool = self._executor()
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < self.workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(seen)} of {self.workers} DLP workers started")
            probes = (loop.run_in_executor(pool, _ready) for _ in range(self.workers))
            seen.update(await asyncio.gather(*probes))

    async def scan(self, payloads: Sequence[Any]) -> list[ScanResult]:
        """Scan payloads split over the workers; order is kept.

        Raises:
            BrokenProcessPool: a worker died (the pool is reset for the next call).
        """
        if not payloads:
            return []
        loop = asyncio.get_running_loop()
        pool = self._executor()
        parts = min(self.workers, len(payloads))
        size = -(-len(payloads) // parts)
        chunks = [list(payloads[i : i + size]) for i in range(0, len(payloads), size)]
        try:
            done = await asyncio.gather(*(loop.run_in_executor(pool, _scan, c) for c in chunks))
        except BrokenProcessPool:
            self.reset()
            raise
        return [scan for chunk in done for scan in chunk]

    def reset(self) -> None:
        """Drop a broken pool; the next call starts fresh workers."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
