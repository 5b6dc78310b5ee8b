"""The gateway's DLP stage: scan a batch at once, then decide each message on its route.

The rules are those of the batch's policy version: their engine is built from that
version's bytes and shared by digest (`dlp.engine.shared`), and each set of rules keeps
its own worker processes (`RuleScanner`), started when a new version comes into
force; until they run, its batches are scanned in-process. `prepare` scans every
payload of the batch together (cache first, then the worker processes, or one
batched in-process pass); `check` applies the route's rules:
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mas.errors import BlockedByDLP

from ..context import DLPFinding, MessageContext
from ..dlp.engine.engine import DLPEngine
from ..dlp.engine.envelope_fields import (
    NO_TEXTS,
    SCANNED_FIELDS,
    EnvelopeTexts,
    describe_fields,
    field_findings,
    field_texts,
)
from ..dlp.engine.results import ScanResult
from ..dlp.engine.scanning import RuleScanner
from ..dlp.engine.shared import cached_engine, engine_for, has_dlp
from ..dlp.loading.policy import DLPPolicy
from .base import Batch

if TYPE_CHECKING:
    from ..policy import PolicySet
    from .registry import StageEnv

__all__ = ["DLPStage", "build_dlp_stage"]

log = logging.getLogger(__name__)

FieldScans = tuple[ScanResult, ScanResult]
"""Scans of an envelope's repeating and unique field texts."""


@dataclass(frozen=True)
class Prepared:
    """A batch's scans: the engine of its rules, and per context (by `id`) the payload's
    scan, its envelope field texts and their scans."""

    engine: DLPEngine
    scans: dict[int, tuple[ScanResult, EnvelopeTexts, FieldScans]]


class DLPStage:
    """Pipeline stage ``dlp``: the rules of the batch's policy version, scanned per batch."""

    name = "dlp"
    screened_fields = SCANNED_FIELDS

    def __init__(self, *, workers: int | None = None, keep: int = 2) -> None:
        self._workers = workers
        self._keep = keep
        self._scanners: dict[str, RuleScanner] = {}
        """By rules digest: the newest `keep` sets of rules in use, with their workers."""
        self._building: dict[str, asyncio.Task[RuleScanner]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, policy: PolicySet) -> None:
        """Load the rules in force (and their worker processes) before the first batch."""
        self._loop = asyncio.get_running_loop()
        await self.scanner_for(policy, wait_for_workers=True)

    def policy_changed(self, policy: PolicySet) -> None:
        """Store listener (any thread): prepare the new version's rules off the hot path."""
        if self._loop is not None and has_dlp(policy):
            self._loop.call_soon_threadsafe(self._prewarm, policy)

    def _prewarm(self, policy: PolicySet) -> None:
        task = asyncio.ensure_future(self.scanner_for(policy))
        task.add_done_callback(_log_failure)

    async def scanner_for(
        self, policy: PolicySet, *, wait_for_workers: bool = False
    ) -> RuleScanner | None:
        """The scanner of `policy`'s DLP rules (None: the version has none)."""
        if not has_dlp(policy):
            return None
        engine = cached_engine(policy) or await asyncio.to_thread(engine_for, policy)
        digest = engine.policy.digest
        scanner = self._scanners.get(digest)
        if scanner is not None:
            return scanner
        building = self._building.get(digest)
        if building is None:
            building = asyncio.ensure_future(self._build(engine, wait_for_workers))
            self._building[digest] = building
        return await asyncio.shield(building)

    async def _build(self, engine: DLPEngine, wait_for_workers: bool) -> RuleScanner:
        scanner = RuleScanner(engine, workers=self._workers)
        try:
            await scanner.start(wait_for_workers=wait_for_workers)
        finally:
            self._building.pop(engine.policy.digest, None)
        self._scanners[scanner.digest] = scanner
        while len(self._scanners) > self._keep:  # the oldest rules are no longer in force
            oldest = next(iter(self._scanners))
            await self._scanners.pop(oldest).aclose()
        return scanner

    async def aclose(self) -> None:
        """Stop every worker process."""
        for task in list(self._building.values()):
            task.cancel()
        await asyncio.gather(*self._building.values(), return_exceptions=True)
        for scanner in self._scanners.values():
            await scanner.aclose()
        self._scanners.clear()

    async def _scan_message(
        self,
        scanner: RuleScanner,
        datas: Sequence[Any],
        fields: Sequence[EnvelopeTexts],
        size: int,
    ) -> list[tuple[ScanResult, FieldScans]]:
        """Per message: the payload's scan and its envelope fields' scans, in one pass."""
        cached = [*datas, *(list(f.repeating.texts) for f in fields)]
        scans = await scanner.scan(cached, [list(f.unique.texts) for f in fields], size=size)
        n = len(datas)
        return [(scans[i], (scans[n + i], scans[2 * n + i])) for i in range(n)]

    async def prepare(self, batch: Batch[None]) -> Prepared | None:
        """Scan the payloads and the envelope fields of the whole batch at once."""
        scanner = await self.scanner_for(batch.policy)
        if scanner is None:
            return None
        contexts = batch.contexts
        fields = [_fields_of(ctx) for ctx in contexts]
        scans = await self._scan_message(
            scanner, [ctx.data for ctx in contexts], fields, _envelope_bytes(contexts)
        )
        return Prepared(
            scanner.engine,
            {
                id(ctx): (scan, texts, field_scans)
                for ctx, texts, (scan, field_scans) in zip(contexts, fields, scans, strict=True)
            },
        )

    async def check(self, ctx: MessageContext, batch: Batch[Prepared | None]) -> None:
        """Apply the route's rules to the message's findings (nothing without DLP rules)."""
        if batch.prepared is None:
            return
        engine = batch.prepared.engine
        scan, fields, field_scans = batch.prepared.scans[id(ctx)]
        result = engine.decide(scan, ctx.data, ctx.sender_roles, ctx.target_groups)
        ctx.dlp_findings = [f.to_context() for f in result.findings]
        ctx.dlp_action = result.action
        ctx.dlp_route = result.route
        self._check_fields(engine, ctx, fields, field_scans)
        if result.action == "block":
            raise BlockedByDLP(result.reason(), message_id=ctx.message_id)
        if result.action == "redact" and result.redacted_payload is not None:
            ctx.data = result.redacted_payload
            ctx.modified = True
            ctx.redacted_paths = list(result.redacted_paths)

    async def screen(self, batch: Batch[None]) -> None:
        """Withhold the envelope fields holding sensitive data of messages rejected earlier."""
        scanner = await self.scanner_for(batch.policy)
        if scanner is None:
            return
        fields = [_fields_of(ctx) for ctx in batch.contexts]
        cached = [list(f.repeating.texts) for f in fields]
        unique = [list(f.unique.texts) for f in fields]
        scans = await scanner.scan(cached, unique, size=_envelope_bytes(batch.contexts))
        n = len(batch.contexts)
        for i, ctx in enumerate(batch.contexts):
            _withhold(scanner.engine.policy, ctx, fields[i], (scans[i], scans[n + i]))

    def _check_fields(
        self, engine: DLPEngine, ctx: MessageContext, fields: EnvelopeTexts, scans: FieldScans
    ) -> None:
        """Block (and withhold the fields) when an envelope field holds sensitive data."""
        found, error = _withhold(engine.policy, ctx, fields, scans)
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


def _envelope_bytes(contexts: Sequence[MessageContext]) -> int:
    """What the batch's scanned texts come from: its envelopes' bytes (an upper bound)."""
    return sum(len(ctx.raw_envelope) for ctx in contexts)


def _fields_of(ctx: MessageContext) -> EnvelopeTexts:
    return field_texts(ctx.envelope) if ctx.envelope is not None else NO_TEXTS


def _log_failure(task: asyncio.Future[RuleScanner | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("DLP rules of a new policy version could not be prepared: %s", task.exception())


async def build_dlp_stage(env: StageEnv) -> DLPStage | None:
    """The ``dlp`` stage for the policies in force (None without ``dlp.yaml``)."""
    policy = env.policy.current
    if not has_dlp(policy):
        return None
    stage = DLPStage(workers=env.settings.dlp_workers)
    await stage.start(policy)
    env.policy.add_listener(stage.policy_changed)
    env.closers.append(stage.aclose)
    return stage
