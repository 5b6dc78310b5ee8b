"""Text normalisation for scanning, with a map back to the original characters.

Evasion tricks rewrite sensitive values so that patterns miss them: zero-width
and other format characters inside a number, full-width or mathematical digits,
no-break spaces, look-alike letters from other scripts, unusual dashes,
"name [at] host [dot] com" spellings, and numbers spelled out digit by digit
("four one one one ..."). Scanning runs on the normalised text;
every normalised character remembers the span of original characters it came
from, so findings (and redaction) apply to what the sender actually wrote.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["NormalizedText", "normalize"]

# Cyrillic and Greek letters that render like Latin ones (the usual homoglyph set).
_CONFUSABLES = str.maketrans(
    {
        "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u043a": "k", "\u043c": "m", "\u043d": "h",
        "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y", "\u0445": "x",
        "\u0455": "s", "\u0456": "i", "\u0458": "j", "\u0501": "d", "\u0261": "g", "\u04cf": "l",
        "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H",
        "\u041e": "O", "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0423": "Y",
        "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u03b1": "a", "\u03bf": "o", "\u03c1": "p",
        "\u03bd": "v", "\u03b9": "i", "\u03ba": "k", "\u03c4": "t", "\u0391": "A", "\u0392": "B",
        "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I", "\u039a": "K", "\u039c": "M",
        "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X",
    }
)  # fmt: skip

_KEEP_CONTROLS = frozenset("\n\t\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_PLAIN = re.compile(r"[^\x09\x0a\x0d\x20-\x7e]")
# "[at]", "(at)", "{dot}" ... spelled-out separators of e-mail addresses and hosts.
_SPELLED = re.compile(r"\s*[\[\(\{<]\s*(at|dot)\s*[\]\)\}>]\s*", re.IGNORECASE)
# "jane dot doe at example dot com": an address read out loud (needs "at" and a "dot" after it).
_SPOKEN_ADDRESS = re.compile(
    r"\b[\w+-]+(?:\s+dot\s+[\w+-]+)*\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)+\b", re.IGNORECASE
)
_SPOKEN_WORD = re.compile(r"\s+(at|dot)\s+", re.IGNORECASE)
# URL escapes (%40) and numeric HTML entities (&#64; &#x40;).
_ESCAPE = re.compile(
    r"%([0-9A-Fa-f]{2})|&#(\d{2,3});|&#[xX]([0-9A-Fa-f]{2});|\\(?:u00|x)([0-9A-Fa-f]{2})"
)
# Letters standing in for digits inside a number (4l11, 1O5): a run of digits and O/I/l
# that starts and ends with a digit.
_DIGIT_LOOKALIKE = re.compile(r"(?<![A-Za-z0-9])\d[0-9]*[OoIl][0-9OoIl]*\d(?![A-Za-z0-9])")
_LOOKALIKE_DIGITS = str.maketrans("OoIl", "0011")
# Seven or more digits read out one by one ("two oh six, five five five, ..."): a phone
# number at the least. The run becomes the digits, without the separators.
_DIGIT_NAMES = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_DIGIT_WORDS = re.compile(rf"\b{_DIGIT_WORD}(?:[ \t,;.-]+{_DIGIT_WORD}){{6,}}\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """The normalised replacement of one non-ASCII (or control) character."""
    category = unicodedata.category(ch)
    if category == "Cf" or (category == "Cc" and ch not in _KEEP_CONTROLS):
        return ""
    if category in ("Mn", "Me"):
        return ""  # combining marks and variation selectors (e.g. underlined digits)
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if category == "Pd" or ch == "\u2212":
        return "-"
    if category in ("Zs", "Zl", "Zp"):
        return " " if category == "Zs" else "\n"
    folded = unicodedata.normalize("NFKC", ch)
    if folded == ch:
        return ch.translate(_CONFUSABLES)
    return "".join(c if c.isascii() else _fold_char(c) for c in folded)


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text plus, per character, the original span it came from."""

    original: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalised text to the span of the original text."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            return (
                (self.starts[start], self.starts[start])
                if start < len(self.starts)
                else (
                    len(self.original),
                    len(self.original),
                )
            )
        return self.starts[start], self.ends[end - 1]


def _is_plain(text: str) -> bool:
    return text.isascii() and _CONTROL.search(text) is None


def _edits(text: str) -> list[tuple[int, int, str]]:
    """Spans to rewrite: escapes (%40, &#64;) and spelled-out separators ("[at]", " dot ")."""
    edits: list[tuple[int, int, str]] = []
    for m in _ESCAPE.finditer(text):
        code = int(m.group(2)) if m.group(2) else int(m.group(1) or m.group(3) or m.group(4), 16)
        if 32 <= code < 127:
            edits.append((m.start(), m.end(), chr(code)))
    for m in _DIGIT_WORDS.finditer(text):
        digits = "".join(_DIGIT_NAMES[w.lower()] for w in _WORD.findall(m.group()))
        edits.append((m.start(), m.end(), digits))
    for m in _DIGIT_LOOKALIKE.finditer(text):
        edits.append((m.start(), m.end(), m.group().translate(_LOOKALIKE_DIGITS)))
    for m in _SPELLED.finditer(text):
        s, e = m.span()
        if s > 0 and e < len(text) and text[s - 1].isalnum() and text[e].isalnum():
            edits.append((s, e, "@" if m.group(1).lower() == "at" else "."))
    for m in _SPOKEN_ADDRESS.finditer(text):
        for w in _SPOKEN_WORD.finditer(text, m.start(), m.end()):
            edits.append((w.start(), w.end(), "@" if w.group(1).lower() == "at" else "."))
    edits.sort()
    kept: list[tuple[int, int, str]] = []
    for edit in edits:
        if not kept or edit[0] >= kept[-1][1]:
            kept.append(edit)
    return kept


def _needs_edits(text: str) -> bool:
    return (
        "%" in text
        or "&#" in text
        or "\\" in text
        or _SPELLED.search(text) is not None
        or _DIGIT_LOOKALIKE.search(text) is not None
        or " dot " in text.lower()
        or _DIGIT_WORDS.search(text) is not None
    )


def normalize(text: str) -> NormalizedText:
    """Fold evasion tricks away; cheap identity for plain printable ASCII."""
    if _is_plain(text) and not _needs_edits(text):
        return NormalizedText(text, text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in _NOT_PLAIN.finditer(text):
        i = m.start()
        if i > pos:  # a run of plain ASCII, copied as is
            out.append(text[pos:i])
            starts.extend(range(pos, i))
            ends.extend(range(pos + 1, i + 1))
        rep = _fold_char(m.group())
        out.append(rep)
        starts.extend([i] * len(rep))
        ends.extend([i + 1] * len(rep))
        pos = i + 1
    out.append(text[pos:])
    starts.extend(range(pos, len(text)))
    ends.extend(range(pos + 1, len(text) + 1))
    folded = "".join(out)
    if _needs_edits(folded):
        folded, starts, ends = _apply(folded, starts, ends, _edits(folded))
    return NormalizedText(text, folded, tuple(starts), tuple(ends))


def _apply(
    text: str, starts: list[int], ends: list[int], edits: list[tuple[int, int, str]]
) -> tuple[str, list[int], list[int]]:
    """Apply non-overlapping (start, end, replacement) edits, keeping the offset maps."""
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for s, e, replacement in edits:
        out.append(text[pos:s])
        new_starts.extend(starts[pos:s])
        new_ends.extend(ends[pos:s])
        out.append(replacement)
        new_starts.extend([starts[s]] * len(replacement))
        new_ends.extend([ends[e - 1]] * len(replacement))
        pos = e
    out.append(text[pos:])
    new_starts.extend(starts[pos:])
    new_ends.extend(ends[pos:])
    return "".join(out), new_starts, new_ends
