"""Filter the audit log: by sender, target, time, decision, DLP entity type or message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from mas import keys

from .entry import parse_entry
from .log import iter_log
from .timespec import format_time

__all__ = ["AuditQuery", "QueryRow", "format_table", "run_query"]


@dataclass(frozen=True)
class AuditQuery:
    """Every given filter must match (decisions: any of them)."""

    sender: str | None = None
    target: str | None = None
    since: float | None = None
    until: float | None = None
    decisions: frozenset[str] = frozenset()
    entity_type: str | None = None
    message_id: str | None = None

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """True when `entry` passes every filter."""
        if self.sender is not None and entry.get("sender") != self.sender:
            return False
        if self.target is not None and entry.get("target") != self.target:
            return False
        if self.message_id is not None and entry.get("message_id") != self.message_id:
            return False
        if self.decisions and entry.get("decision") not in self.decisions:
            return False
        moment = entry.get("time")
        if self.since is not None or self.until is not None:
            if not isinstance(moment, int | float):
                return False
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment > self.until:
                return False
        if self.entity_type is not None:
            dlp = entry.get("dlp")
            entities = dlp.get("entities") if isinstance(dlp, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            wanted = self.entity_type.upper()
            if not isinstance(entities, dict) or wanted not in entities:
                return False
        return True


@dataclass(frozen=True)
class QueryRow:
    """One matching entry and where it is in the log."""

    index: int
    stream_id: str
    entry: dict[str, Any]
    shard: int = 0
    """The ingress shard whose log holds the entry; `index` is its position there."""

    def to_json(self) -> dict[str, Any]:
        """The entry's fields plus its shard, index and stream id."""
        return {"shard": self.shard, "index": self.index, "stream_id": self.stream_id, **self.entry}


async def run_query(
    client: aioredis.Redis,
    query: AuditQuery,
    *,
    limit: int | None = None,
    include_archive: bool = False,
    archive_dir: Path | None = None,
) -> list[QueryRow]:
    """Matching entries of every shard, ordered by stream id time (archived ones only with
    `include_archive`); with `limit`, the earliest ones.
    """
    rows: list[QueryRow] = []
    for shard in range(keys.INGRESS_SHARDS):
        found = 0
        async for item in iter_log(
            client, shard=shard, archive_dir=archive_dir, include_archive=include_archive
        ):
            entry = parse_entry(item.raw)
            if entry is None or not query.matches(entry):
                continue
            rows.append(QueryRow(item.index, item.stream_id, entry, shard))
            found += 1
            if limit is not None and found >= limit:
                break
    rows.sort(key=lambda row: _stream_order(row.stream_id))
    return rows[:limit] if limit is not None else rows


def _stream_order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _entities(entry: Mapping[str, Any]) -> str:
    dlp = entry.get("dlp")
    found = dlp.get("entities") if isinstance(dlp, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(found, dict) or not found:
        return ""
    return ",".join(f"{name}:{count}" for name, count in sorted(found.items()))  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]


_COLUMNS = ("TIME", "MESSAGE", "SENDER", "TARGET", "TYPE", "DECISION", "CODE", "RULE", "DLP")


def format_table(rows: list[QueryRow]) -> str:
    """A plain text table, one line per entry."""
    lines: list[tuple[str, ...]] = [_COLUMNS]
    for row in rows:
        entry = row.entry
        moment = entry.get("time")
        lines.append(
            (
                format_time(moment) if isinstance(moment, int | float) else "-",
                str(entry.get("message_id") or "-"),
                str(entry.get("sender") or "-"),
                str(entry.get("target") or "-"),
                str(entry.get("type") or "-"),
                str(entry.get("decision") or "-"),
                str(entry.get("code") if entry.get("code") is not None else "-"),
                str(entry.get("rule") or "-"),
                _entities(entry) or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
