"""The pre-screen: a cheap, exact test that a text cannot produce any finding.

Built from the recognizers themselves, so a pattern added to a recognizer file
is screened for without anyone writing a trigger:

- a pattern whose score reaches the policy's lowest threshold ("strong") can
  produce a finding by itself: all strong patterns form one regex;
- a weaker pattern needs a context word to get there, so it only counts when one
  of its recognizer's context words occurs in the text;
- recognizers that are not regex based declare a necessary condition (a
  trigger); one without a known trigger disables the screen (always analyse).

A text that passes goes through Presidio's full analysis; one that does not is
clean by construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer

from .context import phrase_regex, split_phrase
from .person import NAME_TRIGGER
from .recognizers import PolicyPatternRecognizer

__all__ = ["Prescreen", "build_prescreen"]

# Necessary conditions for recognizers that are not regex based, by class name.
_TRIGGERS: dict[str, str] = {
    "CandidatePhoneRecognizer": r"\d(?:[^\d\n]{0,3}\d){6}",
    "PersonNameRecognizer": NAME_TRIGGER,
}
# Trigger-based recognizers whose results all stay below the threshold without context.
_WEAK_TRIGGERS = {"CandidatePhoneRecognizer": 0.4}
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _scoped(pattern: str, flags: int) -> str:
    inline = ""
    m = _LEADING_FLAGS.match(pattern)
    if m:
        inline = m.group(1)
        pattern = pattern[m.end() :]
    if flags & re.IGNORECASE or "i" in inline:
        return f"(?i:{pattern})"
    return f"(?-i:{pattern})"


def _compile(parts: Sequence[str]) -> regex.Pattern[str] | None:
    if not parts:
        return None
    return regex.compile("|".join(parts), flags=regex.DOTALL | regex.MULTILINE | regex.V0)


@dataclass(frozen=True)
class _Gated:
    """Weak patterns of one recognizer, relevant only when its context words occur."""

    context: re.Pattern[str]
    patterns: regex.Pattern[str]


@dataclass(frozen=True)
class Prescreen:
    """`might_match(text)` is False only for texts no recognizer can report."""

    strong: regex.Pattern[str] | None
    gated: tuple[_Gated, ...]

    def might_match(self, text: str) -> bool:
        """True when some recognizer could produce a finding at or above the lowest threshold."""
        if self.strong is not None and self.strong.search(text) is not None:
            return True
        if not self.gated:
            return False
        words = " " + _NON_WORD.sub(" ", text.lower()) + " "
        return any(
            g.context.search(words) is not None and g.patterns.search(text) is not None
            for g in self.gated
        )


def build_prescreen(recognizers: Sequence[EntityRecognizer], floor: float) -> Prescreen | None:
    """The screen for `recognizers` with findings counted from score `floor`; None: no screen."""
    strong: list[str] = []
    gated: list[_Gated] = []
    for rec in recognizers:
        context = phrase_regex(p for p in map(split_phrase, rec.context or []) if p)
        name = type(rec).__name__
        if isinstance(rec, PatternRecognizer):
            flags = rec.global_regex_flags or 0
            weak: list[str] = []
            for pattern in rec.patterns:
                if _BACKREF.search(pattern.regex):
                    return None
                scoped = _scoped(pattern.regex, flags)
                needs_context = (
                    isinstance(rec, PolicyPatternRecognizer)
                    and context is not None
                    and pattern.score < floor
                )
                (weak if needs_context else strong).append(scoped)
            compiled = _compile(weak)
            if compiled is not None and context is not None:
                gated.append(_Gated(context, compiled))
        elif name in _TRIGGERS:
            trigger = _TRIGGERS[name]
            if _WEAK_TRIGGERS.get(name, 1.0) < floor and context is not None:
                gated.append(_Gated(context, regex.compile(trigger)))
            else:
                strong.append(trigger)
        else:
            return None
    try:
        return Prescreen(_compile(strong), tuple(gated))
    except regex.error:
        return None
