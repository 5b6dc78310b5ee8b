"""The gateway's DLP stage: scan a batch at once, then decide each message on its route.

`prepare` scans every payload of the batch together (cache first, then the worker
processes, or one batched in-process pass); `check` applies the route's rules:
block raises `BlockedByDLP` (451) naming entity types and JSON paths, redact
replaces ``ctx.data`` with the redacted copy and lists the redacted paths, alert
delivers and records the findings. Payloads that cannot be scanned are blocked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mas.errors import BlockedByDLP

from ..context import MessageContext
from .engine import DLPEngine
from .results import ScanResult
from .workers import BrokenProcessPool, WorkerPool

__all__ = ["DLPStage"]

log = logging.getLogger(__name__)

_MAX_POOL_FAILURES = 3


class DLPStage:
    """Pipeline stage ``dlp`` (a BatchStage)."""

    name = "dlp"

    def __init__(self, engine: DLPEngine, *, workers: int | None = None) -> None:
        self.engine = engine
        count = engine.policy.engine.workers if workers is None else workers
        self.pool = WorkerPool(engine.policy.file, count) if count > 0 else None
        self._pool_failures = 0
        self._scans: dict[int, tuple[MessageContext, ScanResult]] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def from_policies(cls, policies_dir: str | Path, *, workers: int | None = None) -> DLPStage:
        """Stage for ``<policies_dir>/dlp.yaml``; `workers` overrides ``performance.workers``.

        Raises:
            ConfigError: the policy or a recognizer file is invalid (file and line named).
        """
        return cls(DLPEngine.from_policies(policies_dir), workers=workers)

    async def start(self) -> None:
        """Load the NLP pipeline (or start the workers) before the first batch."""
        if self.pool is not None:
            try:
                await self.pool.start()
                # The pre-screen runs here too: load what it needs (the name lexicon) now.
                await asyncio.to_thread(self.engine.warm_up_triage)
                return
            except BrokenProcessPool:
                self._pool_broken()
        await asyncio.to_thread(self.engine.warm_up)

    def _pool_broken(self) -> None:
        self._pool_failures += 1
        if self.pool is not None:
            self.pool.reset()
        if self._pool_failures >= _MAX_POOL_FAILURES and self.pool is not None:
            log.error("DLP worker processes keep failing; scanning in-process from now on")
            self.pool = None
        else:
            log.error("a DLP worker process died; scanning this batch in-process")

    async def aclose(self) -> None:
        """Stop the worker processes."""
        if self.pool is not None:
            await asyncio.to_thread(self.pool.close)

    async def _scan(self, payloads: Sequence[Any]) -> list[ScanResult]:
        cache = self.engine.cache
        keys = [cache.key(p) for p in payloads]
        results: list[ScanResult | None] = [cache.get(k) for k in keys]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            todo = [payloads[i] for i in missing]
            scanned = await self._scan_uncached(todo)
            for i, scan in zip(missing, scanned, strict=True):
                results[i] = scan
                cache.put(keys[i], scan)
        return [r if r is not None else ScanResult(error="not scanned") for r in results]

    async def _scan_uncached(self, payloads: list[Any]) -> list[ScanResult]:
        if self.pool is not None:
            # Clean payloads are settled here by the pre-screen; only the rest travel.
            settled = self.engine.triage(payloads)
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
            return await asyncio.to_thread(self.engine.scan_batch, payloads)

    async def prepare(self, batch: Sequence[MessageContext]) -> None:
        """Scan the payloads of the whole batch at once."""
        scans = await self._scan([ctx.data for ctx in batch])
        self._scans = {id(ctx): (ctx, scan) for ctx, scan in zip(batch, scans, strict=True)}

    async def check(self, ctx: MessageContext) -> None:
        """Apply the route's rules to the message's findings (scanning it now if not prepared)."""
        held = self._scans.pop(id(ctx), None)
        scan = held[1] if held is not None and held[0] is ctx else (await self._scan([ctx.data]))[0]
        result = self.engine.decide(scan, ctx.data, ctx.sender_roles, ctx.target_groups)
        ctx.dlp_findings = [f.to_context() for f in result.findings]
        ctx.dlp_action = result.action
        if result.route is not None:
            ctx.annotations["dlp_route"] = result.route
        if result.action == "block":
            raise BlockedByDLP(result.reason(), message_id=ctx.message_id)
        if result.action == "redact" and result.redacted_payload is not None:
            ctx.data = result.redacted_payload
            ctx.modified = True
            ctx.redacted_paths = list(result.redacted_paths)
