"""Building Presidio's AnalyzerEngine from the policy, and the cheap pre-screen.

The registry holds the recognizers declared in the policy's recognizer files,
restricted to entities in scope, tuned by the policy (extra context words per
entity, deny-lists). The pre-screen (see `prescreen`) is built from the same
recognizers, so that texts which cannot produce a finding skip Presidio.
"""

from __future__ import annotations

from dataclasses import dataclass

from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerRegistry,
)

from mas.errors import ConfigError

from ..loading.policy import DLPPolicy
from ..recognizers.person import PersonNameRecognizer
from ..recognizers.policy_files import CandidatePhoneRecognizer, load_recognizer_files
from .context import WindowContextEnhancer
from .nlp import LeanSpacyEngine
from .prescreen import Prescreen, build_prescreen

__all__ = ["AnalyzerBundle", "build_analyzer"]


@dataclass
class AnalyzerBundle:
    """The analyzer plus what the scanner needs to drive it."""

    analyzer: AnalyzerEngine
    nlp: LeanSpacyEngine
    entities: list[str]
    ner_entities: frozenset[str]
    """Entity types reported by a recognizer that uses spaCy's NER."""
    prescreen: Prescreen | None
    language: str


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
    for rec in recognizers:
        if isinstance(rec, CandidatePhoneRecognizer):
            rec.floor = policy.min_threshold
        if isinstance(rec, PersonNameRecognizer):
            rec.model = settings.spacy_model
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
    ner_entities = frozenset(
        e for r in recognizers if isinstance(r, PersonNameRecognizer) for e in r.supported_entities
    )
    return AnalyzerBundle(
        analyzer,
        nlp,
        sorted(scope & covered),
        ner_entities,
        build_prescreen(recognizers, policy.min_threshold),
        language,
    )
