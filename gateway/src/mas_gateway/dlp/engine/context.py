"""Context words: surrounding words (and the field's name) raise or cancel a match's score.

Replaces Presidio's lemma-based enhancer, which needs a lemmatizer pass and
matches substrings anywhere ("card" in "discard"). Here a context entry is a word
or a phrase ("date of birth", "s.s.n"); a text word matches a context word when
equal, or when it starts with a context word of four or more letters ("diagnos"
matches "diagnosed"). The window is N words before and M words after the match,
plus the name of the field the value sits in (or, for a cell of a table held in a
text, its column header). A recognizer's message context words count anywhere in
the message (a diagnosis code in a message about a patient). Negative context (two
words right before the match, e.g. "vitamin" before "B12") cancels the match.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts

from ..loading.policy import ContextSettings
from ..recognizers.policy_files import message_context, negative_context
from .document import DocArtifacts
from .tables import cell_at

__all__ = ["WindowContextEnhancer", "phrase_regex", "split_phrase"]

_SPLIT = re.compile(r"[A-Za-z0-9]+")


def split_phrase(phrase: str) -> tuple[str, ...]:
    """A context entry as lower-case words."""
    return tuple(w.lower() for w in _SPLIT.findall(phrase))


def phrase_regex(
    phrases: Iterable[tuple[str, ...]], *, prefix: bool = True
) -> re.Pattern[str] | None:
    """One regex finding any phrase in a space-joined word window.

    With `prefix`, a context word of four or more letters also matches the words it
    starts ("diagnos" matches "diagnosed"); without, only the word and its plural do
    (negative context: "cell" must not cancel a match after "cellulitis").
    """
    alternatives = []
    for phrase in phrases:
        tail = "[a-z0-9]*" if prefix else "(?:e?s)?"
        words = [re.escape(w) + (tail if len(w) >= 4 or not prefix else "") for w in phrase]
        alternatives.append(" ".join(words))
    if not alternatives:
        return None
    return re.compile(r"(?:^| )(?:" + "|".join(alternatives) + r")(?= |$)")


class WindowContextEnhancer(ContextAwareEnhancer):
    """Word-window context enhancement over the analysis document."""

    def __init__(self, settings: ContextSettings) -> None:
        super().__init__(
            context_similarity_factor=settings.boost,
            min_score_with_context_similarity=settings.min_score_with_context,
            context_prefix_count=settings.words_before,
            context_suffix_count=settings.words_after,
        )
        self._compiled_for: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}
        self._message_for: dict[str, re.Pattern[str] | None] = {}

    def _message(self, recognizer: EntityRecognizer) -> re.Pattern[str] | None:
        key = recognizer.id
        if key not in self._message_for:
            phrases = [p for p in map(split_phrase, message_context(recognizer)) if p]
            self._message_for[key] = phrase_regex(phrases)
        return self._message_for[key]

    def _compiled(
        self, recognizer: EntityRecognizer, extra: tuple[tuple[str, ...], ...]
    ) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        key = recognizer.id
        if extra:
            key = f"{key}|{extra!r}"
        found = self._compiled_for.get(key)
        if found is None:
            phrases = [p for p in map(split_phrase, recognizer.context or []) if p]
            negative = [p for p in map(split_phrase, negative_context(recognizer)) if p]
            found = (phrase_regex([*phrases, *extra]), phrase_regex(negative, prefix=False))
            self._compiled_for[key] = found
        return found

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
        message_words: str | None = None
        for result in raw_results:
            meta = result.recognition_metadata or {}
            recognizer = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY, ""))
            if recognizer is None or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                results.append(result)
                continue
            positive, negative = self._compiled(recognizer, extra)
            if positive is None and negative is None:
                results.append(result)
                continue
            head, tail = document.words_around(
                result.start, result.end, self.context_prefix_count, self.context_suffix_count
            )
            if negative is not None and negative.search(" ".join(head[-2:])):
                continue
            span = document.span_at(result.start)
            field_words = span.context if span is not None else ""
            if span is not None and result.start >= span.value_start:
                value = document.text[span.value_start : span.value_end]
                cell = cell_at(value, result.start - span.value_start)
                if cell is not None:
                    field_words = f"{field_words} {cell.header}"
            window = f"{' '.join(head)} | {' '.join(tail)} | {field_words}"
            supported = positive is not None and positive.search(window) is not None
            whole = self._message(recognizer)
            if not supported and whole is not None:
                if message_words is None:
                    message_words = " ".join(w.text for w in document.words)
                supported = whole.search(message_words) is not None
            if supported:
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
