"""PERSON: spaCy's named entities, filtered to name-shaped spans, plus cues spaCy misses.

A small model tags many things as PERSON (chemical formulas, eponyms such as
"Hess's law", key names) and tags some real names as ORG or FAC. This recognizer
keeps only spans that look like a personal name (two to four capitalised words,
particles and initials allowed), drops eponyms ("X's law", "the X reaction"), and
accepts a name-shaped span that spaCy labelled otherwise, or missed, when a cue
says it is a person: an honorific ("Dr."), a greeting or introduction ("it's",
"thanks"), or a field (or table column) whose name says it holds a person
("cardholder", "patient").
"""

from __future__ import annotations

from collections.abc import Iterator

import regex
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from .document import AnalysisDocument, DocArtifacts
from .lexicon import english_verbs, lexicon
from .person_evidence import (
    LEET,
    SCORE,
    greeted,
    has_negative,
    multi_word_score,
    person_cue,
    single_word_score,
)
from .tables import table_cells

__all__ = [
    "NAME_TRIGGER",
    "PersonNameRecognizer",
    "PersonTrigger",
    "name_candidates",
    "name_span",
]

_NAME_WORD = (
    r"(?:(?:[ae]l|[AE]l)[-\u2010])?(?:\p{Lu}['\u2019])?\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?"
    r"(?:['\u2019\-]\p{Lu}?\p{Ll}+)*(?![\p{L}\p{N}])"
)
_PARTICLE = r"(?:van|von|de|der|den|del|della|da|di|du|la|le|bin|ibn|al|el|dos|das|ter|ten)"
# An initial: "J." anywhere in a name, or "J" between two name words ("Ann J Lee").
_INITIAL = r"(?:\p{Lu}\.|\p{Lu}(?=[ \t]+\p{Lu}\p{Ll}))"
_NAME_PART = rf"(?:{_NAME_WORD}|{_INITIAL})"
_NAME = rf"{_NAME_PART}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_PART}){{1,3}}"
_NAME_RE = regex.compile(rf"^{_NAME}$")
# Two capitalised words close together, or a lower-case introduction ("it's ana reyes"):
# every path of this recognizer needs one of them.
NAME_TRIGGER = (
    r"(?-i:\p{Lu}[\p{L}.'\u2019\-]*,?[ \t]+(?:\p{Ll}{1,4}[ \t]+){0,2}\p{Lu})"
    r"|(?i:this is|it's|it\u2019s|it is|i'm|i\u2019m|i am|name is|name's)[ \t]+(?-i:\p{Ll}{2})"
)
_CANDIDATE = regex.compile(rf"(?<![\p{{L}}]){_NAME}")
_WORD_RE = regex.compile(rf"^{_NAME_WORD}$")

_HONORIFIC = regex.compile(
    rf"(?<![\p{{L}}])(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Doctor|Nurse|Sr|Sra|Dra)\.?[ \t]+"
    rf"(?P<name>{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_WORD}){{0,2}})"
)
_INTRO = regex.compile(
    r"(?<![\p{L}])(?i:thanks|thank you|hi|hello|hey|dear|it's|it\u2019s|it is|i'm|i\u2019m|i am|"
    r"this is|"
    r"name is|named|called|patient|applicant|employee|caller|customer|member|subscriber|"
    r"beneficiary|cardholder|holder|traveler|guest|signed by|attn|attention|name|full name)"
    r"(?:[ \t]*[,:=][ \t]*|[ \t]+)[\"'\u201c]?"
    rf"(?P<name>{_NAME})"
)
# A name typed in lower case in a chat introduction: "hey it's ana reyes, ..." (two or three
# words, then the end of the clause); the words must not be common English words.
_LOWER_INTRO = regex.compile(
    r"(?<![\p{L}])(?i:this is|it's|it\u2019s|it is|i'm|i\u2019m|i am|name is|name's)[ \t]+"
    r"(?P<name>\p{Ll}[\p{Ll}'\u2019-]+(?:[ \t]+\p{Ll}[\p{Ll}'\u2019-]+){1,2})"
    r"(?=[ \t]*(?:[,.!?;:\n]|$|and |here\b|from |calling\b|speaking\b))"
)
_NAME_CUT = regex.compile(r"[/|\n\t(\[{<>:;,]|\s-\s")


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Field names that hold a person.
PERSON_KEYS = _wordset(
    "name fullname full names firstname lastname patient holder cardholder employee "
    "beneficiary traveler traveller subscriber applicant customer contact recipient "
    "guardian insured physician doctor provider author signer payee owner passenger guest "
    "member caller sender attendee student teacher professor nurse referring emergency "
    "requester assignee reporter driver witness tenant landlord buyer seller client user "
    "representative manager supervisor approver reviewer spouse parent mother father kin"
)
# Nouns that follow an eponym: "Hess's law", "the Diels Alder reaction".
_EPONYM_NOUNS = _wordset(
    "law laws rule rules principle constant constants equation equations number effect "
    "reaction reactions addition rearrangement synthesis theorem lemma hypothesis "
    "syndrome disease test scale method process cycle distribution coefficient model "
    "paradox sign maneuver manoeuvre algorithm series conjecture limit relation ratio "
    "formula function transform reagent ester salt acid cell cells diagram notation "
    "mechanism condensation degradation oxidation reduction titration structure structures "
    "projection plot bond bonds complex apparatus flask funnel burner condenser point stain "
    "medium agar reflex criteria classification index curve pathway graph spectrum filter "
    "approximation prize award medal lecture lectures scale scales units"
)
# Capitalised words that start many sentences or name things, never people on their own.
_NOT_NAMES = _wordset(
    "the this that these those your my our their his her its please thanks thank hi hello "
    "dear hey order invoice section room building floor suite unit lab ticket case step "
    "monday tuesday wednesday thursday friday saturday sunday january february march "
    "april may june july august september october november december street avenue road "
    "drive lane inc llc ltd corp company university college hospital clinic bank medical "
    "health center centre group team department office service services support account "
    "new old north south east west general internal family care insurance review report "
    "summary note notes update request response error warning info debug "
    "christmas easter halloween thanksgiving hanukkah diwali ramadan eid "
    "yesterday today tomorrow tonight also then yes no ok okay maybe perhaps sadly luckily "
    "hopefully finally meanwhile anyway apparently unfortunately fortunately "
    "st ave blvd rd ln hwy pkwy boulevard parkway highway way plaza square court ct place "
    "terrace circle trail"
)
# Frequent chat words that are never part of a name typed in lower case.
_CHAT_WORDS = _wordset(
    "good great fine ok okay sure sorry happy glad busy late back home here there done ready "
    "available free new sick tired right wrong true real pretty really very super just still "
    "also so too much well better worse best worst bad nice cool awesome weird hard easy "
    "urgent important serious fun funny strange odd same different possible impossible "
    "open closed broken working fixed wrong lost stuck confused worried sure certain away "
    "out off over inside outside online offline"
)
# Last words that make a capitalised run a thing named after someone ("Glasgow Coma Scale").
_THING_NOUNS = _wordset(
    "scale score syndrome disease disorder lymphoma sarcoma carcinoma palsy test equation "
    "reaction principle theorem lemma hypothesis effect maneuver manoeuvre criteria "
    "classification index curve stain sign plot cycle"
)


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


def name_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the personal name in `text` after trimming, or None if not name-shaped."""
    cut = _NAME_CUT.search(text)
    end = cut.start() if cut else len(text)
    core = text[:end].rstrip(" .'\u2019")
    if core.endswith(("'s", "\u2019s")):
        core = core[:-2]
    start = len(core) - len(core.lstrip())
    core = core.strip()
    m = _HONORIFIC.match(core)
    if m is not None:
        start += m.start("name")
        core = m.group("name")
    if not _NAME_RE.match(core):
        return None
    words = core.split()
    named = [w for w in words if _WORD_RE.match(w)]
    if len(named) < 2 and not (m is not None and named):
        return None
    if any(w.lower().strip(".") in _NOT_NAMES for w in words):
        return None
    if words[-1].lower() in _THING_NOUNS:
        return None
    return start, start + len(core)


# "DOE, JANE" / "Doe, Jane M." as written in forms and records.
_INVERTED = regex.compile(
    r"^\s*(\p{L}[\p{L}'\u2019\-]+),\s*(\p{L}[\p{L}'\u2019\-]+)(?:\s+\p{L}\.?)?\s*$"
)


def field_name_span(value: str) -> tuple[int, int] | None:
    """The name in a field that holds a person: normal, upper-case, or "Last, First" order."""
    span = name_span(value)
    if span is not None:
        return span
    stripped = value.strip()
    if stripped.isupper():
        span = name_span(value.title())
        if span is not None:
            return span
    m = _INVERTED.match(value)
    if m is None or any(w.lower() in _NOT_NAMES for w in m.groups()):
        return None
    if value.isupper() or all(w[:1].isupper() for w in m.groups()):
        return m.start(1), len(value.rstrip())
    return None


def _person_cells(text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
    """Names in the cells of a table whose column header says it holds a person."""
    value = text[start:end]
    if "\n" not in value:
        return
    for cell in table_cells(value):
        if not PERSON_KEYS.intersection(cell.header.split()):
            continue
        span = field_name_span(value[cell.start : cell.end])
        if span is not None:
            yield start + cell.start + span[0], start + cell.start + span[1], 0.85


# "Dmitri Mendeleev published the periodic table in 1869": a name followed by a past-tense
# verb in a sentence dated before living memory is history, not a person's data.
_PAST_VERB = regex.compile(
    r"[ \t]+(?:\p{Ll}+ed|won|wrote|made|gave|found|built|led|became|took|drew|saw|began|"
    r"sang|fought|taught|thought|brought|held|knew|spoke|flew|met|sold|told|went|ruled)\b"
)
_OLD_YEAR = regex.compile(r"\b(?:1[0-8]\d\d|19[0-4]\d)\b")
_BIRTH_WORDS = regex.compile(r"(?i:\b(?:born|birth|dob|d\.o\.b|age|aged|patient|pt)\b)")
_SENTENCE_END = regex.compile(r"[.!?\n]")


def _historical(text: str, start: int, end: int) -> bool:
    """True for a name in a sentence about history (see `_PAST_VERB`), not in a record."""
    if _PAST_VERB.match(text, end) is None:
        return False
    head = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    tail = _SENTENCE_END.search(text, end)
    sentence = text[head : tail.start() if tail else len(text)]
    return _OLD_YEAR.search(sentence) is not None and _BIRTH_WORDS.search(sentence) is None


def _plain_name_word(word: str) -> bool:
    """A lower-case word that could be part of a name: not a stop word or common chat word."""
    w = word.lower()
    return (
        len(w) >= 2
        and w not in STOP_WORDS
        and w not in _CHAT_WORDS
        and not w.endswith(("ing", "ed", "ly", "ful", "ous", "able", "ible", "less", "ness"))
    )


# A run of capitalised name words (particles and initials inside): lexicon candidates.
_RUN = regex.compile(
    rf"(?<![\p{{L}}\p{{N}}_@./\\-]){_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_PART}){{0,3}}"
)
# Two lower-case words (digits allowed for leetspeak) that may be a name typed carelessly.
_LOWER_PAIR = regex.compile(
    r"(?<![\p{L}\p{N}_@./-])(?P<a>(?=[013457@$]*\p{Ll}[013457@$]*\p{Ll})[\p{Ll}013457@$]{3,})"
    r"[ \t]+(?P<b>(?=[013457@$]*\p{Ll}[013457@$]*\p{Ll})[\p{Ll}013457@$]{3,})"
    r"(?![\p{L}\p{N}_@-])"
)
_WORD_SPLIT = regex.compile(rf"{_NAME_WORD}")


def _single_words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Each capitalised name word inside text[start:end]."""
    for m in _WORD_SPLIT.finditer(text, start, end):
        if m.group().lower() not in _NOT_NAMES:
            yield m.start(), m.end()


def _label_at(labels: list[tuple[int, int, str]], start: int, end: int) -> str:
    """The spaCy label of an entity overlapping [start, end), PERSON first; '' if none."""
    found = ""
    for s, e, label in labels:
        if s < end and start < e:
            if label in PersonNameRecognizer.PERSON_LABELS:
                return label
            found = found or label
    return found


_SENTENCE_OPENING = regex.compile(r"(?:^|[.!?:;\n\"(\[{|=,])\s*$")
_CAPITALISED = regex.compile(r"(?<![\p{L}\p{N}_])\p{Lu}[\p{Ll}'\u2019-]+(?![\p{L}\p{N}_])")


def name_candidates(text: str) -> bool:
    """True when `text` may hold a name (so spaCy's NER is worth running on it).

    A name-shaped run of capitalised words, a capitalised word that is no everyday word
    and either a known name or inside a sentence, or a lower-case known name next to
    another word.
    """
    if _CANDIDATE.search(text) is not None:
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
    for m in _LOWER_PAIR.finditer(text, overlapped=True):
        first, last = m.group("a").translate(LEET), m.group("b").translate(LEET)
        if (lex.is_given(first) and not lex.ambiguous(first)) or (
            lex.is_family(last) and not lex.ambiguous(last)
        ):
            return True
    return False


class PersonTrigger:
    """The pre-screen's test for PERSON: `search(text)` is truthy when a name may be there."""

    def search(self, text: str) -> bool | None:
        """True when `name_candidates` holds, else None (the shape of ``re.search``)."""
        return True if name_candidates(text) or _LOWER_INTRO.search(text) else None


def _is_eponym(doc: str, start: int, end: int) -> bool:
    after = doc[end : end + 40]
    m = regex.match(r"(?:['\u2019]s?)?[ \t-]+(\p{L}+)", after)
    return m is not None and m.group(1).lower() in _EPONYM_NOUNS


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
                if last[0].lower() in _THING_NOUNS or _is_eponym(text, s0, e0):
                    continue
                if has_negative(text, s0, e0):
                    continue
                if label in self.PERSON_LABELS:
                    for s, e in _single_words(text, s0, e0):
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
            if not _historical(text, s, e):
                keep(s, e, score)
        for s, e, score in self._lexical(text, labels, verbs):
            keep(s, e, score)
        for s, e, score in self._cued(text, document):
            keep(s, e, score)
        return [
            self._result(s, e, score)
            for (s, e), score in found.items()
            if not _is_eponym(text, s, e)
            and not _historical(text, s, e)
            and not has_negative(text, s, e)
        ]

    def _lexical(
        self, text: str, labels: list[tuple[int, int, str]], verbs: frozenset[str]
    ) -> Iterator[tuple[int, int, float]]:
        """Names found through the lexicon: capitalised runs, lower-case and leetspeak pairs."""
        lex = lexicon()
        for m in _RUN.finditer(text):
            s, e = m.start(), m.end()
            label = _label_at(labels, s, e)
            ner = label in self.PERSON_LABELS
            other = label if label in self.OTHER_LABELS else ""
            words = m.group().split()
            if words[-1].lower() in _THING_NOUNS or _is_eponym(text, s, e):
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
                for ws, we in _single_words(text, s, e):
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
        for m in _LOWER_PAIR.finditer(text, overlapped=True):
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
                and _plain_name_word(first)
                and _plain_name_word(last)
            ):
                yield m.start(), m.end(), 0.6

    def _cued(
        self, text: str, document: AnalysisDocument | None
    ) -> Iterator[tuple[int, int, float]]:
        for m in _HONORIFIC.finditer(text):
            yield m.start("name"), m.end("name"), 0.85
        yield from self._lower_case(text)
        for m in _INTRO.finditer(text):
            span = name_span(m.group("name"))
            if span is not None:
                yield m.start("name") + span[0], m.start("name") + span[1], 0.75
        if document is None:
            return
        for ds in document.spans:
            yield from _person_cells(text, ds.value_start, ds.value_end)
            if not ds.context or not PERSON_KEYS.intersection(ds.context.split()):
                continue
            value = text[ds.value_start : ds.value_end]
            if len(value) > 80:
                continue
            span = field_name_span(value)
            if span is not None:
                yield ds.value_start + span[0], ds.value_start + span[1], 0.85

    @staticmethod
    def _lower_case(text: str) -> Iterator[tuple[int, int, float]]:
        lex = lexicon()
        for m in _LOWER_INTRO.finditer(text):
            words = m.group("name").split()
            if all(_plain_name_word(w) for w in words) and lex.is_name(words[0]):
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
