"""PERSON cues beyond spaCy: labels in logs and forms, table columns, lower-case chat, things."""

from __future__ import annotations

import pytest

from mas_gateway.dlp import DLPEngine

from .helpers import found, types_found


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('INFO chart.open user=dr_reyes patient="Kwame Mensah"', "Kwame Mensah"),
        ("Date of birth on file. Name: Priya Raghunathan. Admitted Monday.", "Priya Raghunathan"),
        ("hey it's zofia wójcik, call me back after 5", "zofia wójcik"),
        ("hi dr lee, this is rahul venkataraman, my mrn is 2191259", "rahul venkataraman"),
        ("| Patient | Ward |\n|---|---|\n| Lucía Fernández | 4B |", "Lucía Fernández"),
        ("id,patient,ward\n7,Nguyen Thi Lan,4B\n", "Nguyen Thi Lan"),
    ],
)
def test_person_cues(engine: DLPEngine, text: str, name: str) -> None:
    assert name in found(engine, {"text": text}, "PERSON")


def test_person_from_more_field_names(engine: DLPEngine) -> None:
    payload = {"ticket": {"requester": "Priya Raghunathan", "issue": "Cannot log in"}}
    assert "PERSON" in types_found(engine, payload)
    assert "PERSON" in types_found(engine, {"rental": {"driver": "Siobhán Ní Bhriain"}})


@pytest.mark.parametrize(
    "text",
    [
        "it's really late, sorry",
        "this is the nurse on call",
        "i'm not sure yet.",
        "it's working fine now.",
        "Glasgow Coma Scale 15 on arrival",
        "Take Cesar Chavez Ave north to the clinic",
        "Fill in the template with John Doe as the sample customer.",
    ],
)
def test_no_person(engine: DLPEngine, text: str) -> None:
    assert "PERSON" not in types_found(engine, {"text": text})


def test_history_is_not_personal_data(engine: DLPEngine) -> None:
    history = "Dmitri Mendeleev published the periodic table in 1869."
    assert "PERSON" not in types_found(engine, {"text": history})
    for text, name in [
        ("Dmitri Mendeleev published the lab rota in 2019.", "Dmitri Mendeleev"),
        ("Arthur Green, born 1938, moved to Leeds.", "Arthur Green"),
        ("Thanks Arthur Green, the 1938 deed is scanned.", "Arthur Green"),
    ]:
        assert name in found(engine, {"text": text}, "PERSON")
