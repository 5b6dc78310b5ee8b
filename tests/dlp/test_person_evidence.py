"""PERSON from spaCy, the name lexicon and cues together; streets, places and firms are not."""

from __future__ import annotations

import pytest

from mas_gateway.dlp import DLPEngine
from mas_gateway.dlp.recognizers.lexicon import lexicon

from .helpers import found, types_found


def test_lexicon_folds_diacritics_and_knows_everyday_words() -> None:
    lex = lexicon()
    assert lex.is_given("Jürgen") and lex.is_given("jurgen")
    assert lex.is_family("Nowak")
    assert lex.ambiguous("Will") and lex.ambiguous("Hope")
    assert not lex.ambiguous("Margarethe")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Margarethe is from Lisbon and moved here in May.", "Margarethe"),
        ("Please take my son Tobias off the guest list.", "Tobias"),
        ("Yesterday Ingeborg yelled at the courier.", "Ingeborg"),
        ("I had coffee with Leopold this morning.", "Leopold"),
        ("The lease was signed by Rosalind K Whitfield.", "Rosalind K Whitfield"),
        ("Forward the invoice to Yusuf al-Hakimi today.", "Yusuf al-Hakimi"),
        ("tell j0hann35 schm1dt the van is ready", "j0hann35 schm1dt"),
        ("Hi Agnieszka, the parcel arrived.", "Agnieszka"),
        ("Checking your SSN: is it 536-22-1234, Anton Berger?", "Anton Berger"),
    ],
)
def test_single_and_irregular_names(engine: DLPEngine, text: str, name: str) -> None:
    assert name in found(engine, {"text": text}, "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "Our office moved to Lindenstrasse 14, second floor.",
        "Meet at Rue des Lilas by the fountain.",
        "The flight to Madison leaves at noon.",
        "Johnson & Johnson reported earnings.",
        "Will you send the report by Monday?",
        "Grant the team access to the repo.",
        "it's extend validity for another year",
        "Take Marlon Brando Ave to the harbour.",
    ],
)
def test_places_firms_and_verbs_are_not_people(engine: DLPEngine, text: str) -> None:
    assert "PERSON" not in types_found(engine, {"text": text})


@pytest.mark.parametrize(
    "text",
    [
        "Ship it to 19 Birch Bend, Shawnee.",
        "Harlow Lane Sales shares rose 3% after the call.",
        "Released under the Mozilla Public License version 2.",
    ],
)
def test_towns_firms_and_licences_are_not_people(engine: DLPEngine, text: str) -> None:
    assert "PERSON" not in types_found(engine, {"text": text})


def test_one_name_in_a_person_field(engine: DLPEngine) -> None:
    assert "PERSON" in types_found(engine, {"customer": {"first_name": "Margarethe"}})
    assert "PERSON" not in types_found(engine, {"customer": {"name": "Support"}})
