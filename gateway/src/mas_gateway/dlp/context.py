"""Context words: surrounding words (and the field's name) raise or cancel a match's score.

Replaces Presidio's lemma-based enhancer, which needs a lemmatizer pass and
matches substrings anywhere ("card" in "discard"). Here a context entry is a word
or a phrase ("date of birth", "s.s.n"); a text word matches a context word when
equal, or when it starts with a context word of four or more letters ("diagnos"
matches "diagnosed"). The window is N words before and M words after the match,
plus the name of the field the value sits in. Negative context (two words right
before the match, e.g. "vitamin" before "B12") cancels the match.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from .document import DocArtifacts
from .policy import ContextSettings
from .recognizers import negative_context

__all__ = ["WindowContextEnhancer", "phrase_in", "split_phrase"]

_SPLIT = re.compile(r"[A-Za-z0-9]+")


def split_phrase(phrase: str) -> tuple[str, ...]:
    """A context entry as lower-case words."""
    return tuple(w.lower() for w in _SPLIT.findall(phrase))


def _word_matches(word: str, wanted: str) -> bool:
    return word == wanted or (len(wanted) >= 4 and word.startswith(wanted))


def phrase_in(words: Sequence[str], phrase: Sequence[str]) -> bool:
    """True when `phrase` occurs as consecutive words of `words`."""
    n = len(phrase)
    if n == 0 or n > len(words):
        return False
    for i in range(len(words) - n + 1):
        if all(_word_matches(words[i + k], phrase[k]) for k in range(n)):
            return True
    return False


class WindowContextEnhancer(ContextAwareEnhancer):
    """Word-window context enhancement over the analysis document."""

    def __init__(self, settings: ContextSettings) -> None:
        super().__init__(
            context_similarity_factor=settings.boost,
            min_score_with_context_similarity=settings.min_score_with_context,
            context_prefix_count=settings.words_before,
            context_suffix_count=settings.words_after,
        )
        self._phrases: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._negative: dict[str, tuple[tuple[str, ...], ...]] = {}

    def _compiled(
        self, recognizer: EntityRecognizer
    ) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
        key = recognizer.id
        if key not in self._phrases:
            self._phrases[key] = tuple(p for p in map(split_phrase, recognizer.context or []) if p)
            self._negative[key] = tuple(
                p for p in map(split_phrase, negative_context(recognizer)) if p
            )
        return self._phrases[key], self._negative[key]

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """Raise scores of results with supporting words nearby; drop those with negative ones."""
        if not isinstance(nlp_artifacts, DocArtifacts):
            return raw_results
        document = nlp_artifacts.document
        by_id = {r.id: r for r in recognizers}
        extra = tuple(p for p in map(split_phrase, context or []) if p)
        results: list[RecognizerResult] = []
        for result in raw_results:
            meta = result.recognition_metadata or {}
            recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, ""))
            if recognizer is None or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                results.append(result)
                continue
            phrases, negative = self._compiled(recognizer)
            if not phrases and not negative and not extra:
                results.append(result)
                continue
            head, tail = document.words_around(
                result.start, result.end, self.context_prefix_count, self.context_suffix_count
            )
            if negative and any(phrase_in(head[-2:], p) for p in negative):
                continue
            span = document.span_at(result.start)
            field_words = span.context.split() if span is not None else []
            window = [*head, "", *tail, "", *field_words]
            if any(phrase_in(window, p) for p in (*phrases, *extra)):
                result = copy.copy(result)
                result.score = min(
                    ContextAwareEnhancer.MAX_SCORE,
                    max(
                        result.score + self.context_similarity_factor,
                        self.min_score_with_context_similarity,
                    ),
                )
            results.append(result)
        return results


def contains_any(words: Iterable[str], phrases: Iterable[tuple[str, ...]]) -> bool:
    """True when any phrase occurs in `words`."""
    seq = list(words)
    return any(phrase_in(seq, p) for p in phrases)
