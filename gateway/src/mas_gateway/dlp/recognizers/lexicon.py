"""Name lexicons: given and family names across locales, from Faker's person providers.

Faker ships curated first- and last-name lists for some 80 locales as Python data
(nothing is fetched). They are read once per process, folded to lower case, and kept
with and without diacritics ("Müller" matches "muller" and "müller"). Words that are
also everyday English ("Will", "May", "Grant", "Hope") are `ambiguous`: a lexicon hit
on one of them alone is no evidence of a person.
"""

from __future__ import annotations

import importlib
import pkgutil
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from spacy.lang.en.stop_words import STOP_WORDS

__all__ = ["Lexicon", "english_verbs", "fold", "lexicon"]


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# English words that are also given or family names, beyond Faker's English word list.
_NAME_WORDS = _wordset(
    """
    will may june april august autumn summer winter spring grant hope mark bill rose joy faith
    grace art guy pat sue rob jack frank earl dean chase hunter miles page dawn eve ivy lily
    iris amber ruby pearl crystal sky rain storm hill wood woods stone field fields king young
    black white brown green gray grey long short little bell ball price power rich best cross
    lane street church story hall case love lord major price hardy bush banks parks sharp
    day date holiday march sunday monday christian german
    france paris london jordan georgia virginia carolina austin dallas houston phoenix
    victoria florence sydney chelsea israel india china asia africa america north south
    east west new old van von de la le di da del du mac al el bin ben abu ibn st san santa
    """
)


def fold(word: str) -> str:
    """Lower case without diacritics ("Müller" -> "muller")."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Lexicon:
    """Folded given and family names, and the ambiguous everyday words among them."""

    given: frozenset[str]
    family: frozenset[str]
    common: frozenset[str]

    def is_given(self, word: str) -> bool:
        """True when `word` is a known given name."""
        return _key(word) in self.given

    def is_family(self, word: str) -> bool:
        """True when `word` is a known family name."""
        return _key(word) in self.family

    def is_name(self, word: str) -> bool:
        """True when `word` is a known given or family name."""
        key = _key(word)
        return key in self.given or key in self.family

    def ambiguous(self, word: str) -> bool:
        """True when `word` is also an everyday word, a stop word, or the plural of one."""
        key = _key(word)
        if key in self.common:
            return True
        return key.endswith("s") and (key[:-1] in self.common or key[:-2] in self.common)


@lru_cache(maxsize=65_536)
def _key(word: str) -> str:
    # Cached: everyday words recur in every message, and folding is pure Python per letter.
    return fold(word.strip(".'\u2019"))


def _names(values: object) -> Iterable[str]:
    if isinstance(values, dict | list | tuple | set | frozenset):
        for v in values:
            if isinstance(v, str):
                yield v


def _words(name: str) -> Iterable[str]:
    for part in name.replace("-", " ").split():
        if len(part) >= 2 and part.isalpha():
            yield part


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon, built on first use (a few hundred milliseconds)."""
    import faker.providers.lorem.en_US as english
    import faker.providers.person as people

    given: set[str] = set()
    family: set[str] = set()
    for info in pkgutil.iter_modules(people.__path__):
        provider = importlib.import_module(f"{people.__name__}.{info.name}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            for name in _names(getattr(provider, attr, None)):
                given.update(fold(w) for w in _words(name))
        for attr in ("last_names", "last_names_male", "last_names_female"):
            for name in _names(getattr(provider, attr, None)):
                family.update(fold(w) for w in _words(name))
    common = {fold(w) for w in english.Provider.word_list} | set(STOP_WORDS) | set(_NAME_WORDS)
    return Lexicon(frozenset(given), frozenset(family), frozenset(common))


@lru_cache(maxsize=4)
def english_verbs(model: str) -> frozenset[str]:
    """Verbs known to the spaCy pipeline's lemmatizer (WordNet's index); empty if it has none."""
    from ..engine.nlp import load_pipeline

    nlp = load_pipeline(model)
    if "lemmatizer" not in nlp.component_names:
        return frozenset()
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_index"):
        return frozenset()
    verbs = lookups.get_table("lemma_index").get("verb") or []
    return frozenset(str(v) for v in verbs)
