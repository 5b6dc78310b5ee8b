"""The pre-screen: a cheap, exact test that a text cannot produce any finding.

Built from the recognizers themselves, so a pattern added to a recognizer file
is screened for without anyone writing a trigger:

- a pattern whose score reaches the policy's lowest threshold ("strong") can
  produce a finding by itself, so a text matching any of them is analysed;
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
from .person import PersonTrigger
from .recognizers import PolicyPatternRecognizer, message_context

__all__ = ["Prescreen", "build_prescreen"]

# Necessary conditions for recognizers that are not regex based, by class name.
_TRIGGERS: dict[str, str | PersonTrigger] = {
    "CandidatePhoneRecognizer": r"\d(?:[^\d\n]{0,3}\d){6}",
    "PersonNameRecognizer": PersonTrigger(),
}
# Trigger-based recognizers whose results all stay below the threshold without context.
_WEAK_TRIGGERS = {"CandidatePhoneRecognizer": 0.4}
_NON_WORD = re.compile(r"[^a-z0-9]+")


Matcher = re.Pattern[str] | regex.Pattern[str] | PersonTrigger


def _compile_one(pattern: str, flags: int) -> Matcher:
    """The stdlib engine when it accepts the pattern (several times faster), else ``regex``."""
    try:
        return re.compile(pattern, flags)
    except re.error:
        return regex.compile(pattern, flags | regex.V0)


@dataclass(frozen=True)
class _Gated:
    """Weak patterns of one recognizer, relevant only when its context words occur."""

    entities: frozenset[str]
    context: re.Pattern[str]
    patterns: tuple[Matcher, ...]


@dataclass(frozen=True)
class Prescreen:
    """`candidates(text)`: the entity types some recognizer could report in `text`."""

    strong: tuple[tuple[frozenset[str], Matcher], ...]
    gated: tuple[_Gated, ...]

    def candidates(self, text: str) -> frozenset[str]:
        """Entity types with a recognizer that could reach the lowest threshold in `text`."""
        found: set[str] = set()
        for entities, pattern in self.strong:
            if not entities <= found and pattern.search(text) is not None:
                found |= entities
        if self.gated:
            words = " " + _NON_WORD.sub(" ", text.lower()) + " "
            for g in self.gated:
                if g.entities <= found or g.context.search(words) is None:
                    continue
                if any(p.search(text) is not None for p in g.patterns):
                    found |= g.entities
        return frozenset(found)


def build_prescreen(recognizers: Sequence[EntityRecognizer], floor: float) -> Prescreen | None:
    """The screen for `recognizers` with findings counted from score `floor`; None: no screen."""
    strong: list[tuple[frozenset[str], Matcher]] = []
    gated: list[_Gated] = []
    base = re.DOTALL | re.MULTILINE
    for rec in recognizers:
        words = [*(rec.context or []), *message_context(rec)]
        context = phrase_regex(p for p in map(split_phrase, words) if p)
        entities = frozenset(rec.supported_entities)
        name = type(rec).__name__
        if isinstance(rec, PatternRecognizer):
            flags = base | ((rec.global_regex_flags or 0) & re.IGNORECASE)
            weak: list[Matcher] = []
            for pattern in rec.patterns:
                try:
                    scoped = _compile_one(pattern.regex, flags)
                except regex.error:
                    return None
                needs_context = (
                    isinstance(rec, PolicyPatternRecognizer)
                    and context is not None
                    and pattern.score < floor
                )
                if needs_context:
                    weak.append(scoped)
                else:
                    strong.append((entities, scoped))
            if weak and context is not None:
                gated.append(_Gated(entities, context, tuple(weak)))
        elif name in _TRIGGERS:
            spec = _TRIGGERS[name]
            trigger = _compile_one(spec, base) if isinstance(spec, str) else spec
            if _WEAK_TRIGGERS.get(name, 1.0) < floor and context is not None:
                gated.append(_Gated(entities, context, (trigger,)))
            else:
                strong.append((entities, trigger))
        else:
            return None
    return Prescreen(tuple(strong), tuple(gated))
