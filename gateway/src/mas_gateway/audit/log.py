"""Reading one shard's audit log in tree order: archived segments first, then its stream.

A leaf's index is its position in that order, so archived entries keep their indexes
after Redis is trimmed.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.errors import ConfigError

from .entry import ENTRY_FIELD, message_id_of
from .errors import AuditFormatError
from .streams import stream_entries

__all__ = [
    "ArchiveSegment",
    "LogEntry",
    "entry_bytes",
    "entry_from_json",
    "entry_to_json",
    "iter_log",
    "iter_stream",
    "load_segments",
    "read_segment",
    "segment_lines",
]

_CHUNK = 5000


@dataclass(frozen=True)
class LogEntry:
    """One entry of the log at its tree position."""

    index: int
    stream_id: str
    raw: bytes

    @property
    def message_id(self) -> str | None:
        """The message id the entry records, if any."""
        return message_id_of(self.raw)


def entry_bytes(fields: Mapping[str, bytes]) -> bytes:
    """The entry bytes of a stream entry; empty when the field is missing (verify flags it)."""
    return fields.get(ENTRY_FIELD, b"")


def entry_to_json(raw: bytes) -> dict[str, str]:
    """Exact entry bytes in a JSON document: as text when UTF-8, else base64."""
    try:
        return {"entry": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"entry_b64": base64.b64encode(raw).decode("ascii")}


def entry_from_json(obj: Mapping[str, Any]) -> bytes:
    """Inverse of `entry_to_json`; `AuditFormatError` when neither form is present."""
    text = obj.get("entry")
    if isinstance(text, str):
        return text.encode("utf-8")
    encoded = obj.get("entry_b64")
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AuditFormatError("entry_b64 is not valid base64") from exc
    raise AuditFormatError("record has no 'entry' text")


@dataclass(frozen=True)
class ArchiveSegment:
    """A compressed file holding entries ``first_index .. first_index + count - 1``."""

    file: str
    directory: str
    first_index: int
    count: int
    first_id: str
    last_id: str
    sha256: str
    created_at: float

    @property
    def end_index(self) -> int:
        """Index just after the segment's last entry."""
        return self.first_index + self.count

    def to_json(self) -> dict[str, Any]:
        """The record kept in Redis and in the directory manifest."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Any) -> ArchiveSegment:
        """Parse a record; `AuditFormatError` when it is not one."""
        try:
            segment = cls(**obj)
        except TypeError as exc:
            raise AuditFormatError(f"invalid archive segment record: {exc}") from exc
        if not isinstance(segment.first_index, int) or not isinstance(segment.count, int):
            raise AuditFormatError("archive segment indexes must be integers")
        if Path(segment.file).name != segment.file:
            raise AuditFormatError(f"archive segment file name {segment.file!r} is not plain")
        return segment

    def path(self, directory: Path | None = None) -> Path:
        """Where the file is: in `directory` when given, else where it was written."""
        return (directory or Path(self.directory)) / self.file


async def load_segments(client: aioredis.Redis, *, shard: int) -> list[ArchiveSegment]:
    """The archived segments of one shard's log recorded in Redis, oldest first."""
    records = await client.lrange(keys.audit_archive(shard), 0, -1)
    segments: list[ArchiveSegment] = []
    for record in records:
        try:
            obj = json.loads(record)
        except ValueError as exc:
            raise AuditFormatError(f"a {keys.audit_archive(shard)} record is not JSON") from exc
        segments.append(ArchiveSegment.from_json(obj))
    return segments


def read_segment(path: Path) -> tuple[list[LogEntry], str]:
    """Entries of one archive file and the file's SHA-256 hex.

    Raises:
        ConfigError: the file is missing or unreadable.
        AuditFormatError: it is not a gzip file of JSON lines.
    """
    try:
        compressed = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"archive segment {path.name} not found in {path.parent}; pass --archive-dir"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read archive segment {path}: {exc.strerror}") from exc
    digest = hashlib.sha256(compressed).hexdigest()
    try:
        lines = gzip.decompress(compressed).splitlines()
    except (OSError, EOFError) as exc:
        raise AuditFormatError(f"archive segment {path.name} is not valid gzip") from exc
    entries: list[LogEntry] = []
    for number, line in enumerate(lines, start=1):
        try:
            obj = json.loads(line)
            entries.append(LogEntry(int(obj["index"]), str(obj["id"]), entry_from_json(obj)))
        except (ValueError, KeyError, TypeError, AuditFormatError) as exc:
            raise AuditFormatError(f"{path.name}:{number}: not an archived entry") from exc
    return entries, digest


def segment_lines(entries: list[LogEntry]) -> Iterator[bytes]:
    """JSON lines of an archive file."""
    for entry in entries:
        record = {"index": entry.index, "id": entry.stream_id, **entry_to_json(entry.raw)}
        yield json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


async def iter_stream(
    client: aioredis.Redis,
    *,
    shard: int,
    first_index: int,
    min_id: str = "-",
    max_id: str = "+",
) -> AsyncIterator[LogEntry]:
    """Entries of one shard's audit stream in order, numbered from `first_index`."""
    index = first_index
    start = min_id
    while True:
        reply = await client.xrange(keys.audit_log(shard), min=start, max=max_id, count=_CHUNK)
        batch = stream_entries(reply)
        for sid, fields in batch:
            yield LogEntry(index, sid, entry_bytes(fields))
            index += 1
            start = f"({sid}"
        if len(batch) < _CHUNK:
            return


async def iter_log(
    client: aioredis.Redis,
    *,
    shard: int,
    archive_dir: Path | None = None,
    include_archive: bool = True,
    problems: list[str] | None = None,
) -> AsyncIterator[LogEntry]:
    """Every entry of one shard in tree order; archive files whose digest changed are noted.

    `archive_dir` is where a moved archive is: shard N's segments are in its ``shard-N``.
    """
    segments = await load_segments(client, shard=shard)
    position = 0
    if include_archive:
        for segment in segments:
            moved = archive_dir / f"shard-{shard}" if archive_dir is not None else None
            entries, digest = read_segment(segment.path(moved))
            if problems is not None and digest != segment.sha256:
                problems.append(f"archive segment {segment.file} was modified (SHA-256 differs)")
            for entry in entries:
                yield LogEntry(position, entry.stream_id, entry.raw)
                position += 1
    else:
        position = segments[-1].end_index if segments else 0
    async for entry in iter_stream(client, shard=shard, first_index=position):
        yield entry
