"""Verify the audit log in Redis (and its archive): every signature, chain link and root.

The tree is recomputed from the entries in stream order, across archived segments;
every checkpoint's root must equal the recomputed root at its size, which also proves
each checkpoint consistent with the one before. The stream counters are checked for
deletions, and an optional witness (a checkpoint kept outside Redis) catches a log
whose tail was cut off and whose head was reset and re-signed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas import keys

from .checkpoint import SignedCheckpoint, StoredCheckpoint, load_gateway_keys, read_checkpoints
from .counters import counter_problems, read_counters
from .errors import AuditFormatError
from .log import LogEntry, iter_log, load_segments
from .merkle import HASH_SIZE
from .recompute import Finding, LeafHints, TreeRecomputation
from .report import VerifyReport, Witness, check_chain, check_witness

__all__ = [
    "DEFAULT_MAX_UNCOVERED_AGE_S",
    "combine_reports",
    "load_stored_checkpoints",
    "stored_leaves",
    "verify_log",
    "verify_shards",
]

DEFAULT_MAX_UNCOVERED_AGE_S = 3600.0

PROGRESS_EVERY = 50_000
"""Entries between two progress reports of `verify_log`."""
"""A checkpointer signs within seconds; an entry unsigned for an hour means trouble."""


async def _stale(client: aioredis.Redis, entry: LogEntry, limit_s: float) -> Finding | None:
    """A finding when `entry` was appended more than `limit_s` ago (by the Redis clock)."""
    seconds, micros = await client.time()
    age_s = seconds + micros / 1e6 - int(entry.stream_id.split("-", 1)[0]) / 1000
    if age_s <= limit_s:
        return None
    return Finding(
        "entry",
        f"not covered by any checkpoint {age_s / 60:.0f} min after it was appended: "
        "checkpoints were removed, or no checkpointer is running",
        entry.index,
        entry.stream_id,
        entry.message_id,
    )


async def load_stored_checkpoints(
    client: aioredis.Redis, *, shard: int
) -> tuple[list[StoredCheckpoint], list[Finding]]:
    """Parse one shard's checkpoint stream; malformed entries become findings."""
    stored: list[StoredCheckpoint] = []
    findings: list[Finding] = []
    for stream_id, fields in await read_checkpoints(client, shard=shard):
        try:
            stored.append(StoredCheckpoint.from_fields(stream_id, fields))
        except AuditFormatError as exc:
            findings.append(Finding("checkpoint", f"checkpoint entry {stream_id}: {exc}"))
    return stored, findings


def stored_leaves(stored: list[StoredCheckpoint]) -> list[bytes] | None:
    """The leaf hashes saved with the checkpoints, or None when they do not line up."""
    leaves: list[bytes] = []
    for item in stored:
        packed = item.leaves
        if len(packed) % HASH_SIZE or len(leaves) + len(packed) // HASH_SIZE != (
            item.checkpoint.tree_size
        ):
            return None
        leaves.extend(packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE))
    return leaves


async def verify_log(
    client: aioredis.Redis,
    *,
    shard: int,
    trusted: Mapping[str, Ed25519PublicKey] | None = None,
    archive_dir: Path | None = None,
    witness: Witness | SignedCheckpoint | None = None,
    max_uncovered_age_s: float | None = DEFAULT_MAX_UNCOVERED_AGE_S,
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Check one shard's whole log; the report names the first bad entry when there is one.

    `progress`, when given, is told every `PROGRESS_EVERY` entries how far it got.

    An entry still not covered by any checkpoint `max_uncovered_age_s` after it was
    appended is a finding too: checkpoints were removed, or none is being written.

    Raises:
        ConfigError: an archive segment file cannot be found or read.
    """
    report = VerifyReport(source=f"audit log of shard {shard} in Redis", shard=shard)
    if trusted is None:
        trusted = await load_gateway_keys(client)
        report.notes.append(
            "signing keys were taken from Redis; pin them with --pubkey for an independent check"
        )
    stored, findings = await load_stored_checkpoints(client, shard=shard)
    report.findings.extend(findings)
    signed = [s.signed for s in stored]
    targets, findings = check_chain(
        signed, trusted, where=[s.stream_id for s in stored], shard=shard
    )
    report.findings.extend(findings)
    if isinstance(witness, SignedCheckpoint):
        witness = Witness(witness)
    if witness is not None:
        target, findings = check_witness(witness.checkpoint, signed, trusted, shard)
        report.findings.extend(findings)
        if target is not None:
            targets.append(target)

    tree = TreeRecomputation(targets)
    problems: list[str] = []
    async for entry in iter_log(client, shard=shard, archive_dir=archive_dir, problems=problems):
        if not entry.raw:
            report.findings.append(
                Finding("entry", "has no 'entry' field", entry.index, entry.stream_id)
            )
        if not tree.add(entry):
            break
        if progress is not None and (entry.index + 1) % PROGRESS_EVERY == 0:
            progress(f"audit verify: {entry.index + 1} entries checked")
    tree.finish()
    report.findings.extend(Finding("archive", problem) for problem in problems)
    if tree.failed is not None:
        hints: list[LeafHints] = []
        leaves = stored_leaves(stored)
        if leaves is not None:
            hints.append(LeafHints(leaves))
        if witness is not None and witness.hints is not None:
            hints.append(witness.hints)
        report.findings.append(tree.locate(hints))
    if max_uncovered_age_s is not None and tree.unverified:
        finding = await _stale(client, tree.unverified[0], max_uncovered_age_s)
        if finding is not None:
            report.findings.append(finding)
    counters = await read_counters(client, shard=shard)
    report.findings.extend(Finding("counters", p) for p in counter_problems(counters))

    segments = await load_segments(client, shard=shard)
    report.archived = segments[-1].end_index if segments else 0
    report.entries = tree.size if tree.failed is None else await _count(client, report, shard)
    report.checkpoints = len(stored)
    report.verified_size = tree.verified_size
    if stored:
        latest = stored[-1].checkpoint
        report.tree_size = latest.tree_size
        report.root = latest.root.hex()
        uncovered = report.entries - latest.tree_size
        if uncovered > 0 and report.ok:
            report.notes.append(f"{uncovered} newest entries are not covered by a checkpoint yet")
    elif report.entries:
        report.notes.append(f"no checkpoint yet: {report.entries} entries are not covered")
    report.key_ids = sorted({s.key_id for s in signed})
    report.findings = [dataclasses.replace(f, shard=shard) for f in report.findings]
    return report


async def _count(client: aioredis.Redis, report: VerifyReport, shard: int) -> int:
    """Entries in the shard's log (archived plus in Redis), without recomputing the tree."""
    return report.archived + int(await client.xlen(keys.audit_log(shard)))


async def verify_shards(
    client: aioredis.Redis,
    *,
    trusted: Mapping[str, Ed25519PublicKey] | None = None,
    archive_dir: Path | None = None,
    witnesses: Mapping[int, Witness | SignedCheckpoint] | None = None,
    max_uncovered_age_s: float | None = DEFAULT_MAX_UNCOVERED_AGE_S,
    progress: Callable[[str], None] | None = None,
) -> list[VerifyReport]:
    """`verify_log` of every ingress shard, in shard order (each is its own tree)."""
    reports: list[VerifyReport] = []
    for shard in range(keys.INGRESS_SHARDS):
        reports.append(
            await verify_log(
                client,
                shard=shard,
                trusted=trusted,
                archive_dir=archive_dir,
                witness=(witnesses or {}).get(shard),
                max_uncovered_age_s=max_uncovered_age_s,
                progress=progress,
            )
        )
    return reports


def combine_reports(reports: list[VerifyReport]) -> VerifyReport:
    """One report over several shards' reports (no single root: each shard has its own)."""
    combined = VerifyReport(source=f"audit log in Redis ({len(reports)} shards)")
    for report in reports:
        combined.entries += report.entries
        combined.archived += report.archived
        combined.checkpoints += report.checkpoints
        combined.verified_size += report.verified_size
        combined.tree_size += report.tree_size
        combined.findings.extend(report.findings)
        combined.notes.extend(
            n for n in report.notes if not n.startswith("signing keys were taken")
        )
        combined.key_ids = sorted({*combined.key_ids, *report.key_ids})
    if any(r.notes and r.notes[0].startswith("signing keys were taken") for r in reports):
        combined.notes.insert(0, reports[0].notes[0])
    return combined
