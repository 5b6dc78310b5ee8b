"""Context beyond the word window: table column headers, message-wide words, exact negatives."""

from __future__ import annotations

import pytest

from mas_gateway.dlp import DLPEngine
from mas_gateway.dlp.engine.tables import cell_at, table_cells

from .helpers import found


def test_csv_cells_carry_their_column_header() -> None:
    text = "mrn,patient,dob\n41629751,Ana Reyes,1972-06-30\n"
    cells = table_cells(text)
    assert [(text[c.start : c.end], c.header) for c in cells] == [
        ("41629751", "mrn"),
        ("Ana Reyes", "patient"),
        ("1972-06-30", "dob"),
    ]


def test_markdown_cells_carry_their_column_header() -> None:
    text = "| Name | D.O.B. |\n|---|---|\n| Ana Reyes | 19 July 1990 |"
    cell = cell_at(text, text.index("19 July"))
    assert cell is not None and cell.header == "d o b"
    assert cell_at(text, text.index("Name")) is None


def test_prose_with_commas_is_not_a_table() -> None:
    assert table_cells("Hello, the results are in.\nCall me, please, when you can.") == ()


def test_column_header_gives_context(engine: DLPEngine) -> None:
    text = "mrn,visit\n41629751,follow-up\n"
    assert found(engine, {"text": text}, "MEDICAL_RECORD_NUMBER") == ["41629751"]
    assert found(engine, {"text": "sku,visit\n41629751,follow-up\n"}, "MEDICAL_RECORD_NUMBER") == []


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Pt seen today, presents with migraine without aura (G43.009).", ["G43.009"]),
        ("The patient portal lists J44.1 under her problems.", ["J44.1"]),
        ("Firmware J44.1 ships next week with the new patient portal.", []),
        ("Part number J44.1 ships next week.", []),
    ],
)
def test_codes_with_subcode_use_message_context(
    engine: DLPEngine, text: str, codes: list[str]
) -> None:
    assert found(engine, {"text": text}, "ICD10_CODE") == codes


def test_negative_context_matches_whole_words(engine: DLPEngine) -> None:
    text = "Diagnosis: cellulitis L03.90 of the left leg"
    assert found(engine, {"text": text}, "ICD10_CODE") == ["L03.90"]
    assert found(engine, {"text": "Diagnosis pending; cell L03.90"}, "ICD10_CODE") == []
