"""The gateway's DLP stage: scan a batch at once, then decide each message on its route.

`prepare` scans every payload of the batch together (cache first, then the worker
processes, or one batched in-process pass); `check` applies the route's rules:
block raises `BlockedByDLP` (451) naming entity types and JSON paths, redact
replaces ``ctx.data`` with the redacted copy and lists the redacted paths, alert
delivers and records the findings. Payloads that cannot be scanned are blocked.
The envelope's text fields travel in the same batch (`envelope_fields`): a finding
there blocks whatever the action, naming the field, and the field is withheld from
the audit entry, the notice and the logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mas.errors import BlockedByDLP

from ..context import DLPFinding, MessageContext
from .engine import DLPEngine
from .envelope_fields import (
    NO_TEXTS,
    SCANNED_FIELDS,
    EnvelopeTexts,
    describe_fields,
    field_findings,
    field_texts,
)
from .policy import DLPPolicy
from .results import ScanResult
from .workers import BrokenProcessPool, WorkerPool

__all__ = ["DLPStage"]

log = logging.getLogger(__name__)

_MAX_POOL_FAILURES = 3

FieldScans = tuple[ScanResult, ScanResult]
"""Scans of an envelope's repeating and unique field texts."""


class DLPStage:
    """Pipeline stage ``dlp`` (a BatchStage)."""

    name = "dlp"
    screened_fields = SCANNED_FIELDS

    def __init__(self, engine: DLPEngine, *, workers: int | None = None) -> None:
        self.engine = engine
        count = engine.policy.engine.workers if workers is None else workers
        self.pool = WorkerPool(engine.policy.file, count) if count > 0 else None
        self._pool_failures = 0
        self._scans: dict[int, tuple[MessageContext, ScanResult, EnvelopeTexts, FieldScans]] = {}
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

    async def _scan(self, payloads: Sequence[Any], fresh: Sequence[Any] = ()) -> list[ScanResult]:
        """Scans of `payloads` (cached), then of `fresh` (never cached), in one pass."""
        cache = self.engine.cache
        keys = [cache.key(p) for p in payloads]
        results: list[ScanResult | None] = [cache.get(k) for k in keys]
        results += [None if item else ScanResult() for item in fresh]
        everything = [*payloads, *fresh]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            todo = [everything[i] for i in missing]
            scanned = await self._scan_uncached(todo)
            for i, scan in zip(missing, scanned, strict=True):
                results[i] = scan
                if i < len(keys):
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

    async def _scan_message(
        self, datas: Sequence[Any], fields: Sequence[EnvelopeTexts]
    ) -> list[tuple[ScanResult, FieldScans]]:
        """Per message: the payload's scan and its envelope fields' scans, in one pass."""
        cached = [*datas, *(list(f.repeating.texts) for f in fields)]
        scans = await self._scan(cached, [list(f.unique.texts) for f in fields])
        n = len(datas)
        return [(scans[i], (scans[n + i], scans[2 * n + i])) for i in range(n)]

    async def prepare(self, batch: Sequence[MessageContext]) -> None:
        """Scan the payloads and the envelope fields of the whole batch at once."""
        fields = [_fields_of(ctx) for ctx in batch]
        scans = await self._scan_message([ctx.data for ctx in batch], fields)
        self._scans = {
            id(ctx): (ctx, scan, texts, field_scans)
            for ctx, texts, (scan, field_scans) in zip(batch, fields, scans, strict=True)
        }

    async def check(self, ctx: MessageContext) -> None:
        """Apply the route's rules to the message's findings (scanning it now if not prepared)."""
        held = self._scans.pop(id(ctx), None)
        if held is not None and held[0] is ctx:
            _ctx, scan, fields, field_scans = held
        else:
            fields = _fields_of(ctx)
            [(scan, field_scans)] = await self._scan_message([ctx.data], [fields])
        result = self.engine.decide(scan, ctx.data, ctx.sender_roles, ctx.target_groups)
        ctx.dlp_findings = [f.to_context() for f in result.findings]
        ctx.dlp_action = result.action
        if result.route is not None:
            ctx.annotations["dlp_route"] = result.route
        self._check_fields(ctx, fields, field_scans)
        if result.action == "block":
            raise BlockedByDLP(result.reason(), message_id=ctx.message_id)
        if result.action == "redact" and result.redacted_payload is not None:
            ctx.data = result.redacted_payload
            ctx.modified = True
            ctx.redacted_paths = list(result.redacted_paths)

    async def screen(self, batch: Sequence[MessageContext]) -> None:
        """Withhold the envelope fields holding sensitive data of messages rejected earlier."""
        fields = [_fields_of(ctx) for ctx in batch]
        cached = [list(f.repeating.texts) for f in fields]
        scans = await self._scan(cached, [list(f.unique.texts) for f in fields])
        n = len(batch)
        for i, ctx in enumerate(batch):
            _withhold(self.engine.policy, ctx, fields[i], (scans[i], scans[n + i]))

    def _check_fields(self, ctx: MessageContext, fields: EnvelopeTexts, scans: FieldScans) -> None:
        """Block (and withhold the fields) when an envelope field holds sensitive data."""
        found, error = _withhold(self.engine.policy, ctx, fields, scans)
        if error is not None:
            ctx.dlp_action = "block"
            raise BlockedByDLP(
                f"blocked by DLP: envelope fields could not be scanned ({error})",
                message_id=ctx.message_id,
            )
        if not found:
            return
        ctx.dlp_findings = [*found, *ctx.dlp_findings]
        ctx.dlp_action = "block"
        raise BlockedByDLP(
            f"blocked by DLP: {describe_fields(found)} (envelope fields are never redacted)",
            message_id=ctx.message_id,
        )


def _withhold(
    policy: DLPPolicy, ctx: MessageContext, fields: EnvelopeTexts, scans: FieldScans
) -> tuple[list[DLPFinding], str | None]:
    """The envelope fields' findings (or scan error); every field concerned is withheld."""
    pairs = [(scans[0], fields.repeating), (scans[1], fields.unique)]
    errors = [scan.error for scan, _f in pairs if scan.error is not None]
    if errors:
        ctx.withheld.update(fields.repeating.names, fields.unique.names)
        return [], errors[0]
    found = field_findings(policy, pairs)
    ctx.withheld.update(f.path.removeprefix("envelope.") for f in found)
    return found, None


def _fields_of(ctx: MessageContext) -> EnvelopeTexts:
    return field_texts(ctx.envelope) if ctx.envelope is not None else NO_TEXTS
