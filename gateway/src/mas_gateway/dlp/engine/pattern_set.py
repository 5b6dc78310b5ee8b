"""Which of many Python regexes may match a text, in one Hyperscan scan.

`PatternSet(patterns).may_match(data)` returns the indexes of the patterns that
can match the ASCII text `data`: a superset of those that do (never fewer), so a
caller confirms each hit with the Python pattern and keeps Python's exact
semantics while clean text costs a single pass of Hyperscan's automaton.

The superset holds by construction, not by trusting that two regex dialects
agree. Each pattern is parsed by Python's own parser (``re._parser``) and
written out again in a small subset of Hyperscan's syntax:

- every single-character item (literal, class, ``\\d``, ``\\s``, ``\\w``, ``.``,
  case folding) becomes an explicit class of the ASCII characters Python
  matches with it, found by asking Python about each of the 128 characters;
- a lookbehind that opens the pattern becomes a prefix it consumes, a lookahead
  that closes it a suffix, and every other lookaround is dropped; a
  backreference matches anything; atomic groups and possessive repeats become
  plain ones; ``^`` and ``$`` are multi-line (each change only widens);
- Hyperscan compiles the result in prefilter mode, which may widen it further.

Texts with non-ASCII characters are not for this set (Unicode case folding and
character classes differ between the engines): callers confirm every pattern
on them. A pattern that cannot be translated (syntax only the ``regex`` module
knows, a non-ASCII literal) is reported by every scan, so it is always confirmed.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

import hyperscan

log = logging.getLogger(__name__)

__all__ = ["PatternSet", "UntranslatablePattern", "compiled_databases", "preload", "translate"]

# Python's regex parser and compiler: private modules, stable since 3.11; any surprise
# there makes `translate` fail for that pattern, which then is confirmed on every text.
_parser = importlib.import_module("re._parser")
_compiler = importlib.import_module("re._compiler")
_c = importlib.import_module("re._constants")

_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII | re.UNICODE
_HS_FLAGS = (
    hyperscan.HS_FLAG_PREFILTER
    | hyperscan.HS_FLAG_SINGLEMATCH
    | hyperscan.HS_FLAG_ALLOWEMPTY
    | hyperscan.HS_FLAG_MULTILINE
)
_NOTHING = r"[\x80-\xff]"
"""A class no ASCII text can match (for items that match no ASCII character)."""
_ANYTHING = r"[\x00-\xff]*"
_SINGLE = {"LITERAL", "NOT_LITERAL", "IN", "ANY", "CATEGORY"}


class UntranslatablePattern(ValueError):
    """A pattern outside what `translate` can prove a superset for."""


def _hex_class(chars: frozenset[int]) -> str:
    if not chars:
        return _NOTHING
    ordered = sorted(chars)
    parts: list[str] = []
    start = prev = ordered[0]
    for c in [*ordered[1:], -2]:
        if c == prev + 1:
            prev = c
            continue
        parts.append(f"\\x{start:02x}" if start == prev else f"\\x{start:02x}-\\x{prev:02x}")
        start = prev = c
    return "[" + "".join(parts) + "]"


_CLASS_CACHE: dict[str, frozenset[int]] = {}


def _ascii_matches(node: Any, flags: int) -> frozenset[int]:
    """The ASCII characters Python's engine matches with one single-character item."""
    key = f"{node!r}/{flags}"
    found = _CLASS_CACHE.get(key)
    if found is None:
        state = _parser.State()
        state.flags = flags
        pattern = _compiler.compile(_parser.SubPattern(state, [node]), flags)
        found = frozenset(c for c in range(128) if pattern.fullmatch(chr(c)) is not None)
        _CLASS_CACHE[key] = found
    return found


def _single(node: tuple[Any, Any], flags: int) -> str:
    op, av = node
    if op is _c.LITERAL and av >= 128 and not flags & re.IGNORECASE:
        return _NOTHING
    if op in (_c.LITERAL, _c.NOT_LITERAL) and av >= 128:
        # A non-ASCII character may fold to an ASCII one (KELVIN SIGN ~ "k"): stay wide.
        return "[\\x00-\\x7f]"
    return _hex_class(_ascii_matches(node, flags))


def _sequence(items: Sequence[tuple[Any, Any]], flags: int) -> str:
    return "".join(_item(item, flags) for item in items)


def _item(node: tuple[Any, Any], flags: int) -> str:
    op, av = node
    name = str(op)
    if name in _SINGLE:
        return _single(node, flags)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or name == "POSSESSIVE_REPEAT":
        low, high, sub = av
        body = _sequence(sub.data, flags)
        bound = f"{{{low},}}" if high is _c.MAXREPEAT else f"{{{low},{high}}}"
        return f"(?:{body}){bound}"
    if op is _c.SUBPATTERN:
        _group, add, remove, sub = av
        return f"(?:{_sequence(sub.data, (flags | add) & ~remove)})"
    if name == "ATOMIC_GROUP":
        return f"(?:{_sequence(av.data, flags)})"
    if op is _c.BRANCH:
        return "(?:" + "|".join(_sequence(b.data, flags) for b in av[1]) + ")"
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return ""
    if op is _c.GROUPREF:
        return _ANYTHING
    if op is _c.GROUPREF_EXISTS:
        _group, yes, no = av
        other = _sequence(no.data, flags) if no is not None else ""
        return f"(?:{_sequence(yes.data, flags)}|{other})"
    if op is _c.AT:
        return _anchor(av)
    raise UntranslatablePattern(f"no translation for {name}")


def _anchor(at: Any) -> str:
    anchors = {
        _c.AT_BEGINNING: "^",
        _c.AT_BEGINNING_STRING: r"\A",
        _c.AT_END: "$",
        _c.AT_END_STRING: r"\z",
        _c.AT_BOUNDARY: r"\b",
        _c.AT_NON_BOUNDARY: r"\B",
    }
    if at not in anchors:
        raise UntranslatablePattern(f"no translation for {at}")
    return anchors[at]


def translate(pattern: str, flags: int = 0) -> str:
    """A Hyperscan expression matching (on ASCII text) wherever `pattern` matches.

    Raises:
        UntranslatablePattern: Python's parser rejects it, or it uses a construct
            this translation does not cover.
    """
    try:
        return _translate(pattern, flags)
    except UntranslatablePattern:
        raise
    except Exception as exc:  # a private parser's surprise must not let a pattern through
        raise UntranslatablePattern(f"{type(exc).__name__}: {exc}") from exc


def _translate(pattern: str, flags: int) -> str:
    parsed = _parser.parse(pattern, flags & _FLAGS)
    scope = parsed.state.flags | (flags & _FLAGS)
    items = list(parsed.data)
    prefix = suffix = ""
    if items and items[0][0] is _c.ASSERT and items[0][1][0] == -1:
        prefix = _sequence(items.pop(0)[1][1].data, scope)
    if items and items[-1][0] is _c.ASSERT and items[-1][1][0] == 1:
        suffix = _sequence(items.pop()[1][1].data, scope)
    return f"{prefix}(?:{_sequence(items, scope)}){suffix}"


class PatternSet:
    """Many Python regexes behind one Hyperscan database (see the module docstring)."""

    def __init__(self, patterns: Sequence[re.Pattern[str] | Any]) -> None:
        translated: dict[int, bytes] = {}
        for index, pattern in enumerate(patterns):
            source = getattr(pattern, "pattern", None)
            if not isinstance(source, str):
                continue
            try:
                flags = int(getattr(pattern, "flags", 0))
                translated[index] = translate(source, flags).encode("ascii")
            except UntranslatablePattern as exc:
                log.warning("pattern %d is tested on every text (%s)", index, exc)
        try:
            self._database = _compiled(tuple(translated.values()), tuple(translated))
        except hyperscan.error as exc:
            log.warning("Hyperscan refused the pattern set (%s); trying one by one", exc)
            kept = {i: e for i, e in translated.items() if _compiles(e)}
            for index in sorted(set(translated) - set(kept)):
                log.warning("pattern %d is tested on every text (Hyperscan refused it)", index)
            translated = kept
            self._database = _compiled(tuple(translated.values()), tuple(translated))
        self.size = len(patterns)
        self.always: frozenset[int] = frozenset(range(self.size)) - frozenset(translated)
        """Patterns every scan reports (not translatable): confirmed on every text."""
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = hyperscan.Scratch(self._database)
            self._local.scratch = scratch
        return scratch

    def may_match(self, data: bytes) -> set[int]:
        """Indexes of the patterns that may match the ASCII text `data` (a superset)."""
        hits = set(self.always)
        if self._database is not None:
            self._database.scan(
                data, match_event_handler=_collect, context=hits, scratch=self._scratch()
            )
        return hits


def _collect(index: int, _start: int, _end: int, _flags: int, hits: set[int]) -> None:
    hits.add(index)


_COMPILED: dict[tuple[tuple[bytes, ...], tuple[int, ...]], Any] = {}
_KEEP = 16


def _compiled(expressions: tuple[bytes, ...], ids: tuple[int, ...]) -> Any:
    """A block-mode database, compiled once per set of expressions in a process; None: empty."""
    if not expressions:
        return None
    key = (expressions, ids)
    database = _COMPILED.get(key)
    if database is None:
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=list(expressions), ids=list(ids), elements=len(ids), flags=_HS_FLAGS
        )
        while len(_COMPILED) >= _KEEP:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = database
    return database


def compiled_databases() -> list[tuple[tuple[bytes, ...], tuple[int, ...], bytes]]:
    """This process's compiled databases, serialized, for `preload` in a worker process.

    Compiling takes about a second of CPU; loading a serialized database, milliseconds.
    """
    return [(e, i, hyperscan.dumpb(db)) for (e, i), db in _COMPILED.items()]


def preload(databases: Sequence[tuple[tuple[bytes, ...], tuple[int, ...], bytes]]) -> None:
    """Adopt databases serialized by `compiled_databases` (in the parent process)."""
    for expressions, ids, data in databases:
        _COMPILED[(tuple(expressions), tuple(ids))] = hyperscan.loadb(
            data, mode=hyperscan.HS_MODE_BLOCK
        )


def _compiles(expression: bytes) -> bool:
    """Whether Hyperscan accepts `expression` on its own."""
    try:
        hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK).compile(
            expressions=[expression], ids=[0], elements=1, flags=_HS_FLAGS
        )
    except hyperscan.error:
        return False
    return True
