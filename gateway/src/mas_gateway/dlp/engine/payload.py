"""Walking a nested JSON payload: every string and number with its location and key context.

Numbers are scanned as their digits (a float with an integral value as the integer, so
``123456789.0`` reads ``123456789``), and a list of single digits as the digits joined
(``[1, 2, 3]`` reads ``123``): identifiers sent as numbers are still identifiers.

A location (`Loc`) is the tuple of dict keys and list indices from the root.
Paths shown to people are JSONPath-like (``$.patient.dob``, ``$.items[2]``); a key
that is not a plain identifier, or that itself holds sensitive data, is shown by
its position (``$.contacts[#3]``) so that a path never carries a payload value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Loc",
    "ScanLimitExceeded",
    "Segment",
    "apply_replacements",
    "humanize_key",
    "number_text",
    "render_path",
    "walk",
]

Loc = tuple[str | int, ...]

_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")
_DIGIT = re.compile(r"\d")


class ScanLimitExceeded(ValueError):
    """The payload is too large or too deep to scan within the policy's limits."""


@dataclass(frozen=True)
class Segment:
    """One scannable text: a value (or a dict key) with where it sits and what names it."""

    loc: Loc
    positions: tuple[int, ...]
    """Per element of `loc`: the key's position in its object, or the list index."""
    text: str
    context: str
    """Humanised names of the enclosing keys, e.g. ``patient dob``; empty at the root."""
    is_key: bool = False


_MIN_DIGIT_LIST = 7


def _digit_list(node: Any) -> str | None:
    """The digits of a list of single digits (ints or one-digit strings), else None."""
    if not isinstance(node, list) or len(node) < _MIN_DIGIT_LIST:
        return None
    out: list[str] = []
    for item in node:
        if isinstance(item, bool):
            return None
        if isinstance(item, int) and 0 <= item <= 9:
            out.append(str(item))
        elif isinstance(item, str) and len(item) == 1 and item.isdigit():
            out.append(item)
        else:
            return None
    return "".join(out)


def number_text(node: Any) -> str | None:
    """The text a JSON number, or a list of digits, is scanned as (None for other values)."""
    if isinstance(node, bool):
        return None
    if isinstance(node, int):
        return str(node)
    if isinstance(node, float):
        if node.is_integer() and abs(node) < 1e19:
            return str(int(node))
        return repr(node)
    return _digit_list(node)


def key_words(key: str) -> str:
    """A key as the words it holds, case kept: ``Jane_Roberts`` → ``Jane Roberts``."""
    if _SAFE_KEY.fullmatch(key) and not _DIGIT.search(key):
        return _NON_WORD.sub(" ", _CAMEL.sub(" ", key)).strip() or key
    return key


def humanize_key(key: str) -> str:
    """``dateOfBirth`` / ``date_of_birth`` → ``date of birth``."""
    spaced = _CAMEL.sub(" ", key)
    return _NON_WORD.sub(" ", spaced).strip().lower()


def walk(
    payload: Any, *, max_depth: int = 64, max_segments: int = 20_000, max_chars: int = 500_000
) -> list[Segment]:
    """Every string and integer leaf (and every string key) in document order.

    Raises:
        ScanLimitExceeded: deeper than `max_depth`, more than `max_segments` texts
            or more than `max_chars` characters in total.
    """
    out: list[Segment] = []
    key_segments: list[Segment] = []
    budget = [max_chars]

    def add(seg: Segment) -> None:
        budget[0] -= len(seg.text)
        if budget[0] < 0:
            raise ScanLimitExceeded(f"payload holds more than {max_chars} characters of text")
        if len(out) + len(key_segments) >= max_segments:
            raise ScanLimitExceeded(f"payload holds more than {max_segments} values")
        (key_segments if seg.is_key else out).append(seg)

    def visit(node: Any, loc: Loc, pos: tuple[int, ...], names: tuple[str, ...]) -> None:
        if len(loc) > max_depth:
            raise ScanLimitExceeded(f"payload is nested deeper than {max_depth} levels")
        context = " ".join(names[-2:])
        if isinstance(node, str):
            add(Segment(loc, pos, node, context))
            return
        number = number_text(node)
        if number is not None:
            add(Segment(loc, pos, number, context))
        elif isinstance(node, Mapping):
            for i, (key, value) in enumerate(node.items()):
                key_text = str(key)
                child_loc = (*loc, key_text)
                child_pos = (*pos, i)
                # Keys are text too: a name or a number can hide in one ("Jane_Roberts").
                add(Segment(child_loc, child_pos, key_words(key_text), context, is_key=True))
                visit(value, child_loc, child_pos, (*names, humanize_key(key_text)))
        elif isinstance(node, Sequence) and not isinstance(node, bytes | bytearray):
            for i, value in enumerate(node):
                visit(value, (*loc, i), (*pos, i), names)

    visit(payload, (), (), ())
    # Keys last: values next to each other stay neighbours (their context is each other).
    return [*out, *key_segments]


def render_path(
    loc: Loc, positions: Sequence[int], hidden: frozenset[Loc] | set[Loc] = frozenset()
) -> str:
    """JSONPath-like text for a location; keys that are unsafe or in `hidden` show by position."""
    parts = ["$"]
    for depth, (part, position) in enumerate(zip(loc, positions, strict=True)):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _SAFE_KEY.fullmatch(part) and loc[: depth + 1] not in hidden:
            parts.append(f".{part}")
        else:
            parts.append(f"[#{position}]")
    return "".join(parts)


def apply_replacements(
    payload: Any, values: Mapping[Loc, str], keys: Mapping[Loc, str] | None = None
) -> Any:
    """A deep copy of `payload` with the texts at `values` (and dict keys at `keys`) replaced."""
    keys = keys or {}

    def copy(node: Any, loc: Loc) -> Any:
        if loc in values:
            return values[loc]
        if isinstance(node, Mapping):
            result: dict[str, Any] = {}
            for key, value in node.items():
                child = (*loc, str(key))
                new_key = keys.get(child, str(key))
                while new_key in result:
                    new_key = f"{new_key}_"
                result[new_key] = copy(value, child)
            return result
        if isinstance(node, list | tuple):
            return [copy(value, (*loc, i)) for i, value in enumerate(node)]
        return node

    return copy(payload, ())
