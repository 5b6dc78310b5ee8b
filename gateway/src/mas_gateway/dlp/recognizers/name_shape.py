"""The shape of a personal name: name words, particles, initials, and what is not a name.

Regular expressions for capitalised name runs and lower-case pairs, word lists of things
that look like names but are not (months, streets, eponyms such as "Hess's law", clinical
scales), and helpers that trim a span to its name (`name_span`), read names out of
person fields ("DOE, JANE") and table cells, and recognise history ("X published ... in
1869") and eponyms.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex
from spacy.lang.en.stop_words import STOP_WORDS

from ..engine.tables import table_cells

__all__ = [
    "CANDIDATE",
    "HONORIFIC",
    "INTRO",
    "LOWER_INTRO",
    "LOWER_PAIR",
    "NAME_TRIGGER",
    "PERSON_KEYS",
    "RUN",
    "THING_NOUNS",
    "field_name_span",
    "historical",
    "is_eponym",
    "name_span",
    "person_cells",
    "plain_name_word",
    "single_words",
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
CANDIDATE = regex.compile(rf"(?<![\p{{L}}]){_NAME}")
_WORD_RE = regex.compile(rf"^{_NAME_WORD}$")

HONORIFIC = regex.compile(
    rf"(?<![\p{{L}}])(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Doctor|Nurse|Sr|Sra|Dra)\.?[ \t]+"
    rf"(?P<name>{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_WORD}){{0,2}})"
)
INTRO = regex.compile(
    r"(?<![\p{L}])(?i:thanks|thank you|hi|hello|hey|dear|it's|it\u2019s|it is|i'm|i\u2019m|i am|"
    r"this is|"
    r"name is|named|called|patient|applicant|employee|caller|customer|member|subscriber|"
    r"beneficiary|cardholder|holder|traveler|guest|signed by|attn|attention|name|full name)"
    r"(?:[ \t]*[,:=][ \t]*|[ \t]+)[\"'\u201c]?"
    rf"(?P<name>{_NAME})"
)
# A name typed in lower case in a chat introduction: "hey it's ana reyes, ..." (two or three
# words, then the end of the clause); the words must not be common English words.
LOWER_INTRO = regex.compile(
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
THING_NOUNS = _wordset(
    "scale score syndrome disease disorder lymphoma sarcoma carcinoma palsy test equation "
    "reaction principle theorem lemma hypothesis effect maneuver manoeuvre criteria "
    "classification index curve stain sign plot cycle license licence agreement act policy "
    "protocol standard framework edition series version"
)


def name_span(text: str) -> tuple[int, int] | None:
    """(start, end) of the personal name in `text` after trimming, or None if not name-shaped."""
    cut = _NAME_CUT.search(text)
    end = cut.start() if cut else len(text)
    core = text[:end].rstrip(" .'\u2019")
    if core.endswith(("'s", "\u2019s")):
        core = core[:-2]
    start = len(core) - len(core.lstrip())
    core = core.strip()
    m = HONORIFIC.match(core)
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
    if words[-1].lower() in THING_NOUNS:
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


def person_cells(text: str, start: int, end: int) -> Iterator[tuple[int, int, float]]:
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


def historical(text: str, start: int, end: int) -> bool:
    """True for a name in a sentence about history (see `_PAST_VERB`), not in a record."""
    if _PAST_VERB.match(text, end) is None:
        return False
    head = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    tail = _SENTENCE_END.search(text, end)
    sentence = text[head : tail.start() if tail else len(text)]
    return _OLD_YEAR.search(sentence) is not None and _BIRTH_WORDS.search(sentence) is None


def plain_name_word(word: str) -> bool:
    """A lower-case word that could be part of a name: not a stop word or common chat word."""
    w = word.lower()
    return (
        len(w) >= 2
        and w not in STOP_WORDS
        and w not in _CHAT_WORDS
        and not w.endswith(("ing", "ed", "ly", "ful", "ous", "able", "ible", "less", "ness"))
    )


# A run of capitalised name words (particles and initials inside): lexicon candidates.
RUN = regex.compile(
    rf"(?<![\p{{L}}\p{{N}}_@./\\-]){_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_NAME_PART}){{0,3}}"
)
# Two lower-case words (digits allowed for leetspeak) that may be a name typed carelessly.
LOWER_PAIR = regex.compile(
    r"(?<![\p{L}\p{N}_@./-])(?P<a>(?=[013457@$]*\p{Ll}[013457@$]*\p{Ll})[\p{Ll}013457@$]{3,})"
    r"[ \t]+(?P<b>(?=[013457@$]*\p{Ll}[013457@$]*\p{Ll})[\p{Ll}013457@$]{3,})"
    r"(?![\p{L}\p{N}_@-])"
)
_WORD_SPLIT = regex.compile(rf"{_NAME_WORD}")


def single_words(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Each capitalised name word inside text[start:end]."""
    for m in _WORD_SPLIT.finditer(text, start, end):
        if m.group().lower() not in _NOT_NAMES:
            yield m.start(), m.end()


def is_eponym(doc: str, start: int, end: int) -> bool:
    """True when the word after the span makes it a thing named after someone."""
    after = doc[end : end + 40]
    m = regex.match(r"(?:['\u2019]s?)?[ \t-]+(\p{L}+)", after)
    return m is not None and m.group(1).lower() in _EPONYM_NOUNS
