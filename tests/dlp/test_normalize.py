"""Normalisation folds evasion tricks away and maps findings back to the original text."""

# ruff: noqa: RUF001  (look-alike characters are the point of these tests)

from __future__ import annotations

import pytest

from mas_gateway.dlp.engine.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("54\u200b5604\u200c0639\u200d16737\u20602", "5456040639167372"),
        ("(２１２) ４２６-８０３９", "(212) 426-8039"),
        ("SSN\u00a0105\u00a097\u00a09941", "SSN 105 97 9941"),
        ("𝟏𝟐𝟑-𝟒𝟓-𝟔𝟕𝟖𝟗", "123-45-6789"),
        ("٤١١١-١١١١", "4111-1111"),
        ("123\u2013456\u2212789", "123-456-789"),
        ("jоhn@ехample.com", "john@example.com"),
        ("ann [at] example [dot] org", "ann@example.org"),
        ("soft\u00adhyphen", "softhyphen"),
        ("plain ascii stays as is", "plain ascii stays as is"),
        ("mail jo%40example.com", "mail jo@example.com"),
        ("mail jo&#64;example&#x2E;com", "mail jo@example.com"),
        ("mail jo\\u0040example.com", "mail jo@example.com"),
        ("jane dot doe at example dot org", "jane.doe@example.org"),
        ("meet at noon", "meet at noon"),
        ("ssn 1O5-97-99l1", "ssn 105-97-9911"),
        ("Fe2O3 and I10", "Fe2O3 and I10"),
        ("1\u03322\u03323\u0332", "123"),
    ],
)
def test_normalize_folds_evasions(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


def test_spans_map_back_to_original_characters() -> None:
    raw = "card: ４\u200b１１１ 1111"
    norm = normalize(raw)
    start = norm.text.index("4111")
    end = len(norm.text)
    s, e = norm.to_original(start, end)
    assert raw[s:e] == "４\u200b１１１ 1111"


def test_spelled_separators_map_to_whole_spelling() -> None:
    raw = "mail ann [at] example [dot] org now"
    norm = normalize(raw)
    start = norm.text.index("ann@")
    end = norm.text.index(" now")
    s, e = norm.to_original(start, end)
    assert raw[s:e] == "ann [at] example [dot] org"


def test_spelled_at_needs_a_word_on_each_side() -> None:
    assert "@" not in normalize("[at] the start").text
    assert "@" not in normalize("the end [at]").text
