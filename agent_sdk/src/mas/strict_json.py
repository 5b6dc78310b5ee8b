"""Strict JSON for signed envelopes: bytes that every parser reads as the same object.

The gateway scans the object it parsed and forwards the bytes it was given, so the two
must not be able to differ. `loads_strict` accepts UTF-8 only (no BOM, no UTF-16/32
detection) and refuses what JSON parsers disagree on: duplicate keys at any depth,
``NaN`` / ``Infinity``, numbers that overflow to infinity, underflow to zero or carry
more digits than a 64-bit float keeps, lone surrogate escapes, and nesting deeper than
a limit. Errors name the problem and its JSON path, never a value.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_FLOAT_DIGITS", "JSONRejected", "loads_strict", "render_path"]

MAX_DEPTH = 64
MAX_FLOAT_DIGITS = 17
"""A float64 is fully determined by 17 significant decimal digits; more are dropped."""

_BOM = b"\xef\xbb\xbf"
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z_\-]{0,63}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_EXPONENT = re.compile(r"[eE]")

Path = tuple[str | int, ...]


class JSONRejected(ValueError):
    """The bytes are not strict JSON; the message names the problem (never a value)."""


class _Duplicated(dict[str, Any]):
    """An object whose source repeated a key; `part` names the repetition (key or position)."""

    part: str = ""


class _BadNumber:
    """Stands in for a number literal that cannot be taken at face value."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def render_path(path: Path) -> str:
    """``$.data.items[2]``; keys that are not plain names show by position (``[#3]``)."""
    parts = ["$"]
    for part in path:
        if isinstance(part, int) or part.startswith("#"):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}")
    return "".join(parts)


def _key_part(key: str, position: int) -> str:
    return key if _SAFE_KEY.fullmatch(key) else f"#{position}"


class _Parser:
    """One strict parse; the hooks only flag problems, `_locate` finds where they are."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.flagged = False

    def pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        self.flagged = True
        seen: set[str] = set()
        dup = _Duplicated(obj)
        for position, (key, _value) in enumerate(items):
            if key in seen:
                dup.part = _key_part(key, position)
                break
            seen.add(key)
        return dup

    def constant(self, name: str) -> _BadNumber:
        self.flagged = True
        return _BadNumber(f"{name} (not allowed in JSON)")

    def number(self, literal: str) -> float | _BadNumber:
        value = float(literal)
        mantissa = _EXPONENT.split(literal, maxsplit=1)[0]
        digits = mantissa.lstrip("-").replace(".", "").strip("0")
        problem = None
        if math.isinf(value):
            problem = "a number that overflows to infinity"
        elif value == 0.0 and digits:
            problem = "a non-zero number that underflows to zero"
        elif len(digits) > MAX_FLOAT_DIGITS:
            problem = (
                f"a number with {len(digits)} significant digits "
                f"(a 64-bit float keeps {MAX_FLOAT_DIGITS})"
            )
        if problem is None:
            return value
        self.flagged = True
        return _BadNumber(problem)

    def loads(self, text: str) -> Any:
        try:
            return json.loads(
                text,
                object_pairs_hook=self.pairs,
                parse_constant=self.constant,
                parse_float=self.number,
            )
        except json.JSONDecodeError as exc:
            raise JSONRejected(
                f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except RecursionError:
            raise JSONRejected(f"JSON is nested deeper than {self.max_depth} levels") from None
        except ValueError:  # an integer longer than the interpreter converts
            raise JSONRejected(
                f"JSON holds an integer of more than {sys.get_int_max_str_digits()} digits"
            ) from None

    def check(self, text: str, obj: Any) -> None:
        """Raise `JSONRejected` for the first problem in document order, if any."""
        deep = text.count("{") + text.count("[") > self.max_depth
        surrogates = _SURROGATE_ESCAPE.search(text) is not None
        if self.flagged or deep or surrogates:
            _locate(obj, self.max_depth, surrogates)


def _lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _locate(root: Any, max_depth: int, strings: bool) -> None:
    stack: list[tuple[Any, Path]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _BadNumber):
            raise JSONRejected(f"JSON holds {node.problem} at {render_path(path)}")
        if strings and isinstance(node, str) and _lone_surrogate(node):
            raise JSONRejected(f"JSON string at {render_path(path)} holds a lone surrogate escape")
        if not isinstance(node, dict | list):
            continue
        if len(path) >= max_depth:
            raise JSONRejected(f"JSON is nested deeper than {max_depth} levels")
        children: list[tuple[Any, Path]] = []
        if isinstance(node, dict):
            if isinstance(node, _Duplicated):
                where = render_path((*path, node.part))
                raise JSONRejected(f"duplicate JSON key {where} (keys must be unique)")
            for position, (key, value) in enumerate(node.items()):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
                part = _key_part(str(key), position)  # pyright: ignore[reportUnknownArgumentType]
                if strings and _lone_surrogate(str(key)):  # pyright: ignore[reportUnknownArgumentType]
                    raise JSONRejected(
                        f"JSON key at {render_path((*path, f'#{position}'))} "
                        "holds a lone surrogate escape"
                    )
                children.append((value, (*path, part)))
        else:
            children = [(value, (*path, i)) for i, value in enumerate(node)]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        stack.extend(reversed(children))


def loads_strict(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse UTF-8 JSON bytes strictly.

    Raises:
        JSONRejected: not UTF-8, has a BOM, is not JSON, or holds one of the
            ambiguous constructs listed in the module docstring.
    """
    if raw.startswith(_BOM):
        raise JSONRejected("JSON starts with a UTF-8 byte order mark; send UTF-8 without one")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONRejected(f"JSON is not valid UTF-8 (bad byte at offset {exc.start})") from None
    parser = _Parser(max_depth)
    obj = parser.loads(text)
    parser.check(text, obj)
    return obj
