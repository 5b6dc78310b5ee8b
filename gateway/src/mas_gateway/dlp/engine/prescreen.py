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

Speed: all patterns are searched for at once by Hyperscan (see `pattern_set`),
which answers with a superset of the patterns that match; only those are tested
with Python's engine, so the answer is the one the Python patterns give and a
clean text costs one automaton pass. Texts with non-ASCII characters are tested
pattern by pattern (`candidates_exact`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import regex
from presidio_analyzer import EntityRecognizer, PatternRecognizer

from ..recognizers.person import PersonTrigger
from ..recognizers.policy_files import PolicyPatternRecognizer, message_context
from .context import phrase_regex, split_phrase
from .pattern_set import PatternSet

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
class _Rule:
    """One pattern (or trigger) of one recognizer."""

    entities: frozenset[str]
    matcher: Matcher
    gate: re.Pattern[str] | None = None
    """Context words that must occur in the text for the pattern to count; None: strong."""


class Prescreen:
    """`candidates(text)`: the entity types some recognizer could report in `text`.

    Every rule's pattern sits in one Hyperscan database (`PatternSet`), so an ASCII
    text costs one automaton pass plus the exact Python test of the few patterns it
    hit. Other texts get the exact test of every rule (`candidates_exact`).
    """

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self.rules = tuple(rules)
        self.patterns = PatternSet([r.matcher for r in self.rules])
        gates = list(dict.fromkeys(r.gate for r in self.rules if r.gate is not None))
        self._gate_index = {gate: i for i, gate in enumerate(gates)}
        self.gates = PatternSet(gates)
        """The context-word gates, searched for at once in the text's words."""

    def candidates(self, text: str) -> frozenset[str]:
        """Entity types with a recognizer that could reach the lowest threshold in `text`."""
        if not text.isascii():
            return self.candidates_exact(text)
        hits = self.patterns.may_match(text.encode("ascii"))
        return self._confirm(text, sorted(hits), fast=True)

    def candidates_exact(self, text: str) -> frozenset[str]:
        """`candidates` by testing every rule with its Python pattern (the reference)."""
        return self._confirm(text, range(len(self.rules)), fast=False)

    def _confirm(self, text: str, indexes: Iterable[int], *, fast: bool) -> frozenset[str]:
        found: set[str] = set()
        words: str | None = None
        open_gates: set[int] | None = None
        for index in indexes:
            rule = self.rules[index]
            if rule.entities <= found:
                continue
            if rule.gate is not None:
                if words is None:
                    words = " " + _NON_WORD.sub(" ", text.lower()) + " "
                    if fast:
                        open_gates = self.gates.may_match(words.encode("ascii"))
                gate = self._gate_index[rule.gate]
                if open_gates is not None and gate not in open_gates:
                    continue
                if rule.gate.search(words) is None:
                    continue
            if rule.matcher.search(text) is not None:
                found |= rule.entities
        return frozenset(found)


def build_prescreen(recognizers: Sequence[EntityRecognizer], floor: float) -> Prescreen | None:
    """The screen for `recognizers` with findings counted from score `floor`; None: no screen."""
    rules: list[_Rule] = []
    base = re.DOTALL | re.MULTILINE
    for rec in recognizers:
        words = [*(rec.context or []), *message_context(rec)]
        context = phrase_regex(p for p in map(split_phrase, words) if p)
        entities = frozenset(rec.supported_entities)
        name = type(rec).__name__
        if isinstance(rec, PatternRecognizer):
            flags = base | ((rec.global_regex_flags or 0) & re.IGNORECASE)
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
                rules.append(_Rule(entities, scoped, context if needs_context else None))
        elif name in _TRIGGERS:
            spec = _TRIGGERS[name]
            trigger = _compile_one(spec, base) if isinstance(spec, str) else spec
            weak = _WEAK_TRIGGERS.get(name, 1.0) < floor and context is not None
            rules.append(_Rule(entities, trigger, context if weak else None))
        else:
            return None
    return Prescreen(rules)
