"""Export files: JSONL (header line, then one entry per line) or CSV (header as a # line).

Both carry the exact entry bytes, so the tree can be recomputed; the CSV adds readable
columns for spreadsheets. `read_export` accepts either and never trusts what it reads:
that is `verify_export`'s job.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .checkpoint import SignedCheckpoint
from .entry import parse_entry
from .errors import AuditFormatError
from .export import EXPORT_KIND, Export
from .log import LogEntry, entry_from_json, entry_to_json
from .merkle import CompactRange

__all__ = ["CSV_COLUMNS", "parse_export", "read_export", "write_csv", "write_jsonl"]

CSV_COLUMNS = [
    "index",
    "stream_id",
    "time",
    "message_id",
    "sender",
    "target",
    "type",
    "decision",
    "code",
    "rule",
    "policy_version",
    "entities",
    "payload_sha256",
    "gateway_id",
    "entry",
    "entry_b64",
]


def write_jsonl(export: Export, out: TextIO) -> None:
    """Header line with the proof material, then one JSON object per entry."""
    out.write(json.dumps(export.header(), separators=(",", ":")) + "\n")
    for entry in export.entries:
        row: dict[str, object] = {"index": entry.index, "id": entry.stream_id}
        row.update(entry_to_json(entry.raw))
        out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")


def _entities(parsed: dict[str, Any]) -> str:
    dlp = parsed.get("dlp")
    found = dlp.get("entities") if isinstance(dlp, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(found, dict):
        return ""
    return ";".join(f"{name}={count}" for name, count in sorted(found.items()))  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def write_csv(export: Export, out: TextIO) -> None:
    """``# {header}`` line, a column row, then one row per entry (with the exact entry)."""
    out.write("# " + json.dumps(export.header(), separators=(",", ":")) + "\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in export.entries:
        parsed = parse_entry(entry.raw) or {}
        exact = entry_to_json(entry.raw)
        writer.writerow(
            [
                entry.index,
                entry.stream_id,
                parsed.get("time", ""),
                parsed.get("message_id", ""),
                parsed.get("sender", ""),
                parsed.get("target", ""),
                parsed.get("type", ""),
                parsed.get("decision", ""),
                parsed.get("code", ""),
                parsed.get("rule", ""),
                parsed.get("policy_version", ""),
                _entities(parsed),
                parsed.get("payload_sha256", ""),
                parsed.get("gateway_id", ""),
                exact.get("entry", ""),
                exact.get("entry_b64", ""),
            ]
        )


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise AuditFormatError(f"export header: {what} must be a list of hex hashes")
    try:
        out = [bytes.fromhex(v) for v in values]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    except (TypeError, ValueError) as exc:
        raise AuditFormatError(f"export header: {what} holds a value that is not hex") from exc
    if any(len(h) != 32 for h in out):
        raise AuditFormatError(f"export header: {what} holds a hash that is not 32 bytes")
    return out


def _leaves(value: Any) -> list[bytes] | None:
    """The header's packed leaf hashes; None when absent or malformed (they are only hints)."""
    if not isinstance(value, str):
        return None
    try:
        packed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(packed) % 32:
        return None
    return [packed[i : i + 32] for i in range(0, len(packed), 32)]


def _header(obj: Any) -> Export:
    if not isinstance(obj, dict) or obj.get("kind") != EXPORT_KIND:  # pyright: ignore[reportUnknownMemberType]
        raise AuditFormatError("not an audit export: the first line is not its header")
    header: dict[str, Any] = obj  # pyright: ignore[reportUnknownVariableType]
    start = header.get("start")
    if not isinstance(start, int) or start < 0:
        raise AuditFormatError("export header: start must be a non-negative integer")
    try:
        left = CompactRange(start, _hashes(header.get("left"), "left"))
    except ValueError as exc:
        raise AuditFormatError(f"export header: {exc}") from exc
    raw_checkpoints = header.get("checkpoints")
    if not isinstance(raw_checkpoints, list):
        raise AuditFormatError("export header: checkpoints must be a list")
    checkpoints = [SignedCheckpoint.from_json(c) for c in raw_checkpoints]  # pyright: ignore[reportUnknownVariableType]
    raw_proofs = header.get("consistency")
    if not isinstance(raw_proofs, list):
        raise AuditFormatError("export header: consistency must be a list")
    proofs = [_hashes(p, "consistency") for p in raw_proofs]  # pyright: ignore[reportUnknownVariableType]
    exported_at = header.get("exported_at", 0.0)
    if not isinstance(exported_at, int | float):
        raise AuditFormatError("export header: exported_at must be a number")
    return Export(start, left, checkpoints, proofs, [], _leaves(header.get("leaves")), exported_at)


def _rows_jsonl(lines: Iterable[str], first_line: int) -> list[LogEntry]:
    entries: list[LogEntry] = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            entries.append(LogEntry(int(obj["index"]), str(obj["id"]), entry_from_json(obj)))
        except (ValueError, KeyError, TypeError, AuditFormatError) as exc:
            raise AuditFormatError(f"line {number}: not an exported entry ({exc})") from exc
    return entries


def _rows_csv(lines: list[str], first_line: int) -> list[LogEntry]:
    reader = csv.DictReader(io.StringIO("".join(lines)))
    missing = {"index", "stream_id", "entry", "entry_b64"} - set(reader.fieldnames or [])
    if missing:
        raise AuditFormatError(f"CSV export lacks the columns {', '.join(sorted(missing))}")
    entries: list[LogEntry] = []
    for number, row in enumerate(reader, start=first_line + 1):
        try:
            exact = {k: row[k] for k in ("entry", "entry_b64") if row.get(k)}
            raw = entry_from_json(exact) if exact else b""
            entries.append(LogEntry(int(row["index"]), row["stream_id"], raw))
        except (ValueError, KeyError, TypeError, AuditFormatError) as exc:
            raise AuditFormatError(f"line {number}: not an exported entry ({exc})") from exc
    return entries


def parse_export(text: str) -> Export:
    """Parse a JSONL or CSV export; `AuditFormatError` names the line that is wrong."""
    lines = text.splitlines(keepends=True)
    if not lines:
        raise AuditFormatError("the export is empty")
    first = lines[0]
    is_csv = first.startswith("#")
    try:
        header = json.loads(first[1:] if is_csv else first)
    except ValueError as exc:
        raise AuditFormatError("line 1: the export header is not JSON") from exc
    export = _header(header)
    export.entries = _rows_csv(lines[1:], 2) if is_csv else _rows_jsonl(lines[1:], 2)
    return export


def read_export(path: Path) -> Export:
    """Read and parse an export file."""
    return parse_export(path.read_text(encoding="utf-8"))
