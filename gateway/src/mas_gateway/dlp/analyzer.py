"""Building Presidio's AnalyzerEngine from the policy, and the cheap pre-screen.

The registry holds the recognizers declared in the policy's recognizer files,
restricted to entities in scope, tuned by the policy (extra context words per
entity, deny-lists). The pre-screen is one regular expression made of every
pattern of every recognizer: a text it does not match cannot produce a pattern
finding, so Presidio's pattern pass is skipped for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import regex
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerRegistry,
)

from mas.errors import ConfigError

from .context import WindowContextEnhancer
from .nlp import LeanSpacyEngine
from .person import NAME_TRIGGER, PersonNameRecognizer
from .policy import DLPPolicy
from .recognizers import load_recognizer_files

__all__ = ["AnalyzerBundle", "build_analyzer"]

# Necessary conditions for recognizers that are not regex based.
_TRIGGERS: dict[str, str] = {
    "PhoneRecognizer": r"\d(?:[^\d\n]{0,3}\d){6}",
    "PersonNameRecognizer": NAME_TRIGGER,
}
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_LEADING_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


@dataclass
class AnalyzerBundle:
    """The analyzer plus what the scanner needs to drive it."""

    analyzer: AnalyzerEngine
    nlp: LeanSpacyEngine
    entities: list[str]
    uses_ner: bool
    prescreen: regex.Pattern[str] | None
    language: str


def _scoped(pattern: str, flags: int) -> str:
    inline = ""
    m = _LEADING_FLAGS.match(pattern)
    if m:
        inline = m.group(1)
        pattern = pattern[m.end() :]
    case = "i" if flags & re.IGNORECASE or "i" in inline else "-i"
    return f"(?{case}:{pattern})" if case == "i" else f"(?-i:{pattern})"


def build_prescreen(recognizers: Sequence[EntityRecognizer]) -> regex.Pattern[str] | None:
    """One regex matching wherever any recognizer could match; None if that cannot be built."""
    parts: list[str] = []
    for rec in recognizers:
        if isinstance(rec, PatternRecognizer):
            flags = rec.global_regex_flags or 0
            for pattern in rec.patterns:
                if _BACKREF.search(pattern.regex):
                    return None
                parts.append(_scoped(pattern.regex, flags))
        elif type(rec).__name__ in _TRIGGERS:
            parts.append(_TRIGGERS[type(rec).__name__])
        else:
            return None
    if not parts:
        return None
    try:
        return regex.compile("|".join(parts), flags=regex.DOTALL | regex.MULTILINE | regex.V0)
    except regex.error:
        return None


def build_analyzer(policy: DLPPolicy) -> AnalyzerBundle:
    """The analyzer for `policy` (the spaCy pipeline loads on first use).

    Raises:
        ConfigError: a recognizer file is invalid, or an entity has no recognizer.
    """
    settings = policy.engine
    language = settings.language
    scope = policy.scope
    loaded = load_recognizer_files(settings.recognizer_files, language)
    recognizers: list[EntityRecognizer] = []
    for rec in loaded:
        if rec.supported_language != language:
            continue
        if not scope.intersection(rec.supported_entities):
            continue
        recognizers.append(rec)
    for name, entity in policy.entities.items():
        if entity.deny_list:
            recognizers.append(
                PatternRecognizer(
                    supported_entity=name,
                    name=f"{name} deny list",
                    supported_language=language,
                    deny_list=list(entity.deny_list),
                )
            )
        if entity.context:
            for rec in recognizers:
                if name in rec.supported_entities:
                    rec.context = [*(rec.context or []), *entity.context]
    covered = {e for rec in recognizers for e in rec.supported_entities}
    missing = sorted(scope - covered)
    if missing:
        raise ConfigError(
            f"{policy.file}: no recognizer for {', '.join(missing)} "
            "(add one under policies/recognizers or remove the entity)"
        )
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[language])
    nlp = LeanSpacyEngine(settings.spacy_model, language)
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp,
        supported_languages=[language],
        context_aware_enhancer=WindowContextEnhancer(settings.context),
    )
    uses_ner = any(isinstance(r, PersonNameRecognizer) for r in recognizers)
    return AnalyzerBundle(
        analyzer, nlp, sorted(scope & covered), uses_ner, build_prescreen(recognizers), language
    )
