"""Tables inside a text (CSV, TSV, Markdown or pipe tables): each cell with its column header.

A payload value that holds a table names its columns once, in the header row, far
from most cells. The header of a cell's column is what a field name is to a JSON
value: context ("dob", "MRN", "Patient") for the value in the cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .payload import humanize_key

__all__ = ["Cell", "cell_at", "table_cells"]

_DELIMITERS = ("|", "\t", ",", ";")
# A header cell is a short label: a word, perhaps with spaces, dots or a '#'.
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9 ._#/()'-]{0,40}")
_RULE = re.compile(r"[\s|:+-]*")


@dataclass(frozen=True)
class Cell:
    """A cell of a table row (offsets into the text) and its column header as words."""

    start: int
    end: int
    header: str


def _split(line: str, delimiter: str) -> list[tuple[int, int]]:
    """(start, end) of each cell of a line, without the outer pipes of Markdown rows."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, ch in enumerate(line):
        if ch == delimiter:
            spans.append((pos, i))
            pos = i + 1
    spans.append((pos, len(line)))
    if delimiter == "|" and len(spans) > 2:
        first, last = spans[0], spans[-1]
        if not line[first[0] : first[1]].strip() and not line[last[0] : last[1]].strip():
            spans = spans[1:-1]
    return spans


def _header(line: str) -> tuple[str, list[str]] | None:
    """The delimiter and the header labels, if `line` is a table's header row."""
    for delimiter in _DELIMITERS:
        if line.count(delimiter) < 1:
            continue
        labels = [line[s:e].strip() for s, e in _split(line, delimiter)]
        if len(labels) >= 2 and all(_LABEL.fullmatch(x) for x in labels):
            return delimiter, labels
    return None


@lru_cache(maxsize=1024)
def table_cells(text: str) -> tuple[Cell, ...]:
    """The cells of the rows under a header row in `text` (empty when it holds no table)."""
    if "\n" not in text:
        return ()
    cells: list[Cell] = []
    lines = text.split("\n")
    offset = 0
    headers: list[str] | None = None
    delimiter = ""
    for line in lines:
        start = offset
        offset += len(line) + 1
        if headers is None:
            found = _header(line)
            if found is not None:
                delimiter, labels = found
                headers = [humanize_key(x) for x in labels]
            continue
        if _RULE.fullmatch(line):
            continue
        spans = _split(line, delimiter)
        if len(spans) != len(headers):
            found = _header(line)
            headers = None
            if found is not None:
                delimiter, labels = found
                headers = [humanize_key(x) for x in labels]
            continue
        for (s, e), header in zip(spans, headers, strict=True):
            if line[s:e].strip():
                cells.append(Cell(start + s, start + e, header))
    return tuple(cells)


def cell_at(text: str, offset: int) -> Cell | None:
    """The table cell of `text` that holds `offset`, if any."""
    for cell in table_cells(text):
        if cell.start <= offset < cell.end:
            return cell
    return None
