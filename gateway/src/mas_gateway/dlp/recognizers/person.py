"""PERSON: spaCy's named entities, a name lexicon and cues, scored together.

Evidence for a name (see `person_evidence`): spaCy tagged it PERSON, its words are
given or family names in the lexicon (`lexicon`), a cue points at a person (an
honorific, a greeting, "my kid X", "X shouted", a person field or table column,
"X's phone"), or its shape (a middle initial, a particle). Evidence against: a
street, place or organisation word, a house number, a spaCy place or organisation
label, an everyday word or a verb opening a sentence, an eponym ("Hess's law"), a
name in a sentence about history. A name alone in a sentence counts when two kinds
of evidence agree; lower-case and leetspeak pairs count when the lexicon knows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import regex
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from ..engine.document import AnalysisDocument, DocArtifacts
from .lexicon import english_verbs, lexicon
from .name_shape import (
    CANDIDATE,
    HONORIFIC,
    INTRO,
    LOWER_INTRO,
    LOWER_PAIR,
    PERSON_KEYS,
    RUN,
    THING_NOUNS,
    field_name_span,
    historical,
    is_eponym,
    name_span,
    person_cells,
    plain_name_word,
    single_words,
)
from .person_evidence import (
    LEET,
    SCORE,
    greeted,
    has_negative,
    multi_word_score,
    person_cue,
    single_word_score,
)

__all__ = [
    "PersonNameRecognizer",
    "PersonTrigger",
    "name_candidates",
    "name_span",
]

_CUE_BEFORE = regex.compile(
    r"(?i:\b(?:dr|mr|mrs|ms|mx|prof|patient|it's|it\u2019s|thanks|dear|hi|hello|named|name is))"
    r"\W*$"
)
# After a name: a birth date, an age, an identifier label, e.g. "Ann Lee, DOB ...".
_CUE_AFTER = regex.compile(
    r"\W{0,3}(?i:dob\b|d\.o\.b|born\b|date of birth|ssn\b|mrn\b|age[d]?\s*\d"
    r"|\d{1,3}\s*(?:y/?o\b|years? old))"
)
# An e-mail address right after a name whose local part contains one of its words.
_MAIL_LOCAL = regex.compile(r"^\W{0,4}(?:\S+\s+){0,2}?([\w.+-]+)@[\w-]+\.")


_ONE_NAME = regex.compile(r"\p{Lu}\p{Ll}+(?:[-'\u2019]\p{Lu}?\p{Ll}+)?")
_LOWER_TOKEN = regex.compile(r"(?<![\p{L}\p{N}_@./-])[\p{Ll}013457@$]{3,}(?![\p{L}\p{N}_@-])")
_SENTENCE_OPENING = regex.compile(r"(?:^|[.!?:;\n\"(\[{|=,])\s*$")
_CAPITALISED = regex.compile(r"(?<![\p{L}\p{N}_])\p{Lu}[\p{Ll}'\u2019-]+(?![\p{L}\p{N}_])")


@lru_cache(maxsize=4096)
def name_candidates(text: str) -> bool:
    """True when `text` may hold a name (so spaCy's NER is worth running on it).

    A name-shaped run of capitalised words, a capitalised word that is no everyday word
    and either a known name or inside a sentence, or a lower-case word (leetspeak
    undone) that is a known name and no everyday word.
    """
    if CANDIDATE.search(text) is not None:
        return True
    lex = lexicon()
    for m in _CAPITALISED.finditer(text):
        word = m.group()
        if lex.ambiguous(word):
            continue
        if lex.is_name(word) or not _SENTENCE_OPENING.search(
            text, max(0, m.start() - 3), m.start()
        ):
            return True
    for token in _LOWER_TOKEN.findall(text):
        plain = token.translate(LEET)
        if lex.is_name(plain) and not lex.ambiguous(plain):
            return True
    return False


def _label_at(labels: list[tuple[int, int, str]], start: int, end: int) -> str:
    """The spaCy label of an entity overlapping [start, end), PERSON first; '' if none."""
    found = ""
    for s, e, label in labels:
        if s < end and start < e:
            if label in PersonNameRecognizer.PERSON_LABELS:
                return label
            found = found or label
    return found


class PersonTrigger:
    """The pre-screen's test for PERSON: `search(text)` is truthy when a name may be there."""

    def search(self, text: str) -> bool | None:
        """True when `name_candidates` holds, else None (the shape of ``re.search``)."""
        return True if name_candidates(text) or LOWER_INTRO.search(text) else None


class PersonNameRecognizer(LocalRecognizer):
    """Person names from spaCy entities, honorifics, introductions and person fields."""

    PERSON_LABELS = frozenset({"PERSON", "PER"})
    model: str = ""
    """The spaCy pipeline whose lemmatizer lists English verbs (set by the analyzer)."""
    OTHER_LABELS = frozenset(
        {"ORG", "FAC", "GPE", "NORP", "PRODUCT", "WORK_OF_ART", "LOC", "EVENT", "LAW"}
    )

    def __init__(self, supported_language: str = "en", context: list[str] | None = None) -> None:
        super().__init__(
            supported_entities=["PERSON"],
            supported_language=supported_language,
            name="PersonNameRecognizer",
            context=context,
        )

    def load(self) -> None:
        """Nothing to load: spaCy runs in the NLP engine."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """PERSON results over the analysis document."""
        if "PERSON" not in entities:
            return []
        found: dict[tuple[int, int], float] = {}
        document = nlp_artifacts.document if isinstance(nlp_artifacts, DocArtifacts) else None
        ents = nlp_artifacts.entities if nlp_artifacts is not None else []
        labels = [(e.start_char, e.end_char, str(e.label_)) for e in ents]
        lex = lexicon()
        verbs = english_verbs(self.model) if self.model else frozenset()

        def keep(s: int, e: int, score: float) -> None:
            if score > found.get((s, e), 0.0):
                found[(s, e)] = score

        for s0, e0, label in labels:
            if label not in self.PERSON_LABELS and label not in self.OTHER_LABELS:
                continue
            span = name_span(text[s0:e0])
            if span is None:
                last = text[s0:e0].split()[-1:] or [""]
                if last[0].lower() in THING_NOUNS or is_eponym(text, s0, e0):
                    continue
                if has_negative(text, s0, e0):
                    continue
                if label in self.PERSON_LABELS:
                    for s, e in single_words(text, s0, e0):
                        score = single_word_score(lex, text, s, e, ner=True, verbs=verbs)
                        keep(s, e, score)
                continue
            s, e = s0 + span[0], s0 + span[1]
            if label in self.PERSON_LABELS:
                score = 0.85
            elif self._has_cue(text, s, e, document):
                score = 0.75
            else:
                continue
            if not historical(text, s, e):
                keep(s, e, score)
        for s, e, score in self._lexical(text, labels, verbs):
            keep(s, e, score)
        for s, e, score in self._cued(text, document):
            keep(s, e, score)
        return [
            self._result(s, e, score)
            for (s, e), score in found.items()
            if not is_eponym(text, s, e)
            and not historical(text, s, e)
            and not has_negative(text, s, e)
        ]

    def _lexical(
        self, text: str, labels: list[tuple[int, int, str]], verbs: frozenset[str]
    ) -> Iterator[tuple[int, int, float]]:
        """Names found through the lexicon: capitalised runs, lower-case and leetspeak pairs."""
        lex = lexicon()
        for m in RUN.finditer(text):
            s, e = m.start(), m.end()
            label = _label_at(labels, s, e)
            ner = label in self.PERSON_LABELS
            other = label if label in self.OTHER_LABELS else ""
            words = m.group().split()
            if words[-1].lower() in THING_NOUNS or is_eponym(text, s, e):
                continue
            if len(words) == 1:
                yield (
                    s,
                    e,
                    single_word_score(lex, text, s, e, ner=ner, other_label=other, verbs=verbs),
                )
                continue
            span = name_span(m.group())
            if span is None:
                if has_negative(text, s, e):
                    continue
                for ws, we in single_words(text, s, e):
                    yield (
                        ws,
                        we,
                        single_word_score(
                            lex, text, ws, we, ner=ner, other_label=other, verbs=verbs
                        ),
                    )
                continue
            s, e = s + span[0], s + span[1]
            score = multi_word_score(lex, text, s, e, text[s:e].split(), unlabelled=not label)
            if other and person_cue(text, s, e) < SCORE["strong_cue"]:
                score = min(score, SCORE["other_label_cap"])
            yield s, e, score
        for s, e in greeted(lex, text):
            yield s, e, 0.7
        for m in LOWER_PAIR.finditer(text, overlapped=True):
            first, last = m.group("a").translate(LEET), m.group("b").translate(LEET)
            if not first.isalpha() or not last.isalpha():
                continue
            if lex.ambiguous(first) or lex.ambiguous(last):
                continue
            cue = person_cue(text, m.start(), m.end())
            if lex.is_given(first) and lex.is_name(last):
                yield m.start(), m.end(), 0.6 + cue
            elif (
                (lex.is_given(first) or lex.is_family(last))
                and cue >= SCORE["strong_cue"]
                and plain_name_word(first)
                and plain_name_word(last)
            ):
                yield m.start(), m.end(), 0.6

    def _cued(
        self, text: str, document: AnalysisDocument | None
    ) -> Iterator[tuple[int, int, float]]:
        for m in HONORIFIC.finditer(text):
            yield m.start("name"), m.end("name"), 0.85
        yield from self._lower_case(text)
        for m in INTRO.finditer(text):
            span = name_span(m.group("name"))
            if span is not None:
                yield m.start("name") + span[0], m.start("name") + span[1], 0.75
        if document is None:
            return
        for ds in document.spans:
            yield from person_cells(text, ds.value_start, ds.value_end)
            if not ds.context or not PERSON_KEYS.intersection(ds.context.split()):
                continue
            value = text[ds.value_start : ds.value_end]
            if len(value) > 80:
                continue
            span = field_name_span(value)
            if span is not None:
                yield ds.value_start + span[0], ds.value_start + span[1], 0.85
                continue
            word = value.strip()
            lex = lexicon()
            if _ONE_NAME.fullmatch(word) and lex.is_name(word) and not lex.ambiguous(word):
                start = ds.value_start + value.index(word)
                yield start, start + len(word), 0.75

    @staticmethod
    def _lower_case(text: str) -> Iterator[tuple[int, int, float]]:
        lex = lexicon()
        for m in LOWER_INTRO.finditer(text):
            words = m.group("name").split()
            if all(plain_name_word(w) for w in words) and lex.is_name(words[0]):
                yield m.start("name"), m.end("name"), 0.7

    @staticmethod
    def _has_cue(text: str, start: int, end: int, document: AnalysisDocument | None) -> bool:
        before = text[max(0, start - 24) : start]
        if _CUE_BEFORE.search(before):
            return True
        after = text[end : end + 64]
        if _CUE_AFTER.match(after):
            return True
        mail = _MAIL_LOCAL.search(after)
        if mail is not None:
            local = mail.group(1).lower()
            if any(len(w) >= 3 and w.lower() in local for w in text[start:end].split()):
                return True
        if document is not None:
            span = document.span_at(start)
            if span is not None and PERSON_KEYS.intersection(span.context.split()):
                return True
        return False

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            entity_type="PERSON",
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation="person name"
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
