"""Move old audit entries out of Redis into compressed segment files, with a manifest.

Only a log that verifies is archived, and only entries already covered by a signed
checkpoint. Each segment is a gzip file of JSON lines holding the exact entry bytes;
its record (file, indexes, stream ids, SHA-256) goes into ``manifest.json`` in the
directory and into the shard's ``audit:archive:{shard:N}`` in Redis, and the entries
are then trimmed from
its ``audit:messages:{shard:N}`` with XTRIM MINID in the same MULTI/EXEC as that record. The signed
checkpoints and their stored leaf hashes stay in Redis, so verification, proofs and
exports go on across the archive boundary.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from redis.exceptions import WatchError

from mas import keys
from mas.errors import ConfigError

from .checkpoint import latest_checkpoint
from .errors import AuditError, AuditIntegrityError
from .log import ArchiveSegment, LogEntry, iter_stream, load_segments, segment_lines
from .verifier import verify_log

__all__ = ["MANIFEST_NAME", "archive_before"]

MANIFEST_NAME = "manifest.json"


def _ms(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])


def _after(stream_id: str) -> str:
    """The smallest stream id greater than `stream_id`."""
    ms, seq = stream_id.split("-", 1)
    return f"{ms}-{int(seq) + 1}"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file, flush it to disk, then rename over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _update_manifest(directory: Path, segment: ArchiveSegment) -> None:
    """Add the segment to the directory's manifest (dropping any left by an interrupted run)."""
    path = directory / MANIFEST_NAME
    segments: list[dict[str, object]] = []
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            segments = [s for s in loaded["segments"] if s["first_index"] < segment.first_index]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} exists but is not an audit archive manifest") from exc
    segments.append(segment.to_json())
    manifest = {"kind": "mas.audit.archive", "v": 1, "segments": segments}
    _write_atomically(path, json.dumps(manifest, indent=2).encode("utf-8") + b"\n")


def _write_segment(directory: Path, first_index: int, entries: list[LogEntry]) -> ArchiveSegment:
    """Write one segment file and add it to the manifest; `ConfigError` when that fails."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        last_index = first_index + len(entries) - 1
        name = f"audit-{first_index:012d}-{last_index:012d}.jsonl.gz"
        data = gzip.compress(b"".join(segment_lines(entries)), mtime=0)
        _write_atomically(directory / name, data)
        segment = ArchiveSegment(
            file=name,
            directory=str(directory.resolve()),
            first_index=first_index,
            count=len(entries),
            first_id=entries[0].stream_id,
            last_id=entries[-1].stream_id,
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=time.time(),
        )
        _update_manifest(directory, segment)
    except OSError as exc:
        raise ConfigError(f"cannot write the archive in {directory}: {exc.strerror}") from exc
    return segment


async def archive_before(
    client: aioredis.Redis,
    *,
    shard: int,
    before: float,
    directory: Path,
    archive_dir: Path | None = None,
    trusted: Mapping[str, Ed25519PublicKey] | None = None,
) -> ArchiveSegment | None:
    """Archive one shard's checkpointed entries appended before `before`; None if none.

    Segments of shard N are written to ``directory/shard-N`` (each shard numbers its
    entries from 0, so their files would otherwise collide).

    Raises:
        AuditIntegrityError: the log does not verify, so nothing is moved.
        ConfigError: the directory cannot be written.
    """
    report = await verify_log(client, shard=shard, trusted=trusted, archive_dir=archive_dir)
    if not report.ok:
        first = report.first_bad_entry or report.findings[0]
        raise AuditIntegrityError(f"refusing to archive a log that fails: {first.describe()}")
    latest = await latest_checkpoint(client, shard=shard)
    if latest is None:
        return None
    segments = await load_segments(client, shard=shard)
    first_index = segments[-1].end_index if segments else 0
    entries: list[LogEntry] = []
    async for entry in iter_stream(
        client, shard=shard, first_index=first_index, max_id=latest.checkpoint.last_id
    ):
        if _ms(entry.stream_id) >= before * 1000:
            break
        entries.append(entry)
    if not entries:
        return None

    segment = _write_segment(directory / f"shard-{shard}", first_index, entries)
    archive_key = keys.audit_archive(shard)
    async with client.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(archive_key)
            if await pipe.llen(archive_key) != len(segments):
                raise AuditError(f"another archive run changed {archive_key}; run again")
            pipe.multi()
            pipe.rpush(archive_key, json.dumps(segment.to_json()))
            pipe.xtrim(keys.audit_log(shard), minid=_after(segment.last_id), approximate=False)
            await pipe.execute()
        except WatchError as exc:
            raise AuditError(f"another archive run changed {archive_key}; run again") from exc
    return segment
