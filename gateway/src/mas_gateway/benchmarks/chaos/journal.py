"""Append-only journals: what each process did, one JSON line per event, fsync'd.

A line is written with one ``write`` on an ``O_APPEND`` descriptor and synced
before the writer goes on, so a line a reader sees was written before the event
it records was reported, even if the writer is killed right after. A torn last
line (a kill mid-write) is ignored by the reader.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Journal", "read_journal", "read_journals"]


class Journal:
    """The append-only journal of one process."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and fsync it."""
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


def read_journal(path: Path) -> Iterator[dict[str, Any]]:
    """The complete records of one journal (none if it does not exist yet)."""
    if not path.is_file():
        return
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue  # torn by a kill mid-write
        if isinstance(record, dict):
            yield record  # pyright: ignore[reportUnknownMessageType]


def read_journals(directory: Path, pattern: str) -> list[dict[str, Any]]:
    """Records of every journal in `directory` matching `pattern`, file by file."""
    out: list[dict[str, Any]] = []
    for path in sorted(directory.glob(pattern)):
        out.extend(read_journal(path))
    return out
