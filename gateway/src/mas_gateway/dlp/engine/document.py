"""One analysis document per message: every text of the payload on its own line, keys first.

Each text becomes the line ``<key words>: <normalised text>``, so the analyzer runs
once per message, and field names act as context words (a value under ``dob`` is
read after the words "dob:"). Findings map back from document offsets to the
text they fall in; matches outside a text's value part (in a key prefix, or
spanning two texts) are cut to the value or dropped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from presidio_analyzer.nlp_engine import NlpArtifacts

__all__ = ["AnalysisDocument", "DocArtifacts", "DocSpan", "Word"]

_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class DocSpan:
    """Where one scanned text sits in the document."""

    index: int
    """Index of the text in the message's list of scanned texts."""
    line_start: int
    value_start: int
    value_end: int
    context: str


@dataclass(frozen=True)
class Word:
    """A word of the document (lower-cased letters and digits)."""

    start: int
    end: int
    text: str


@dataclass
class AnalysisDocument:
    """The document text and the span of every scanned text in it."""

    text: str
    spans: list[DocSpan]
    _value_starts: list[int] = field(default_factory=list, repr=False)
    _words: list[Word] | None = field(default=None, repr=False)
    _word_starts: list[int] = field(default_factory=list, repr=False)

    @classmethod
    def build(cls, texts: Sequence[tuple[str, str]]) -> AnalysisDocument:
        """Document for (key context, normalised text) pairs, in order."""
        parts: list[str] = []
        spans: list[DocSpan] = []
        pos = 0
        for i, (context, text) in enumerate(texts):
            prefix = f"{context}: " if context else ""
            line_start = pos
            value_start = pos + len(prefix)
            parts.append(prefix)
            parts.append(text)
            parts.append("\n")
            pos = value_start + len(text) + 1
            spans.append(DocSpan(i, line_start, value_start, value_start + len(text), context))
        doc = cls("".join(parts), spans)
        doc._value_starts = [s.line_start for s in spans]
        return doc

    def span_at(self, offset: int) -> DocSpan | None:
        """The text whose line contains `offset`."""
        i = bisect.bisect_right(self._value_starts, offset) - 1
        return self.spans[i] if i >= 0 else None

    def clip(self, start: int, end: int) -> tuple[DocSpan, int, int] | None:
        """(text, start, end) relative to the text's value, or None if outside any value."""
        span = self.span_at(start)
        if span is None:
            return None
        s = max(start, span.value_start)
        e = min(end, span.value_end)
        if e <= s:
            return None
        return span, s - span.value_start, e - span.value_start

    def clip_all(self, start: int, end: int) -> list[tuple[DocSpan, int, int]]:
        """(text, start, end) for every text whose value [start, end) overlaps."""
        out: list[tuple[DocSpan, int, int]] = []
        i = max(0, bisect.bisect_right(self._value_starts, start) - 1)
        while i < len(self.spans) and self.spans[i].line_start < end:
            span = self.spans[i]
            s, e = max(start, span.value_start), min(end, span.value_end)
            if s < e:
                out.append((span, s - span.value_start, e - span.value_start))
            i += 1
        return out

    @property
    def words(self) -> list[Word]:
        """Lower-cased words with their offsets, computed once."""
        if self._words is None:
            self._words = [
                Word(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(self.text)
            ]
            self._word_starts = [w.start for w in self._words]
        return self._words

    def words_around(
        self, start: int, end: int, before: int, after: int
    ) -> tuple[list[str], list[str]]:
        """Up to `before` words before `start` and `after` words from `end` on."""
        words = self.words
        i = bisect.bisect_left(self._word_starts, start)
        j = i
        while j > 0 and words[j - 1].end > start:
            j -= 1
        k = bisect.bisect_left(self._word_starts, end)
        head = [w.text for w in words[max(0, j - before) : j]]
        tail = [w.text for w in words[k : k + after]]
        return head, tail


class DocArtifacts(NlpArtifacts):
    """NLP artifacts that also carry the analysis document (for context and key cues)."""

    def __init__(
        self,
        document: AnalysisDocument,
        entities: list[Any],
        tokens: Any,
        nlp_engine: Any,
        language: str,
    ) -> None:
        super().__init__(
            entities=entities,
            tokens=tokens,
            tokens_indices=[],
            lemmas=[],
            nlp_engine=nlp_engine,
            language=language,
        )
        self.document = document
