"""Identifiers sent as numbers, lists, split over fields or lines, reversed, in any case."""

from __future__ import annotations

import pytest

from mas_gateway.dlp import DLPEngine
from mas_gateway.dlp.engine.payload import walk
from mas_gateway.dlp.recognizers.structure import (
    card_any_brand,
    iban_any_case,
    phone_shape,
    ssn_split,
)

from .helpers import types_found


def test_numbers_and_digit_lists_are_scanned_as_digits() -> None:
    payload = {"a": 536221234.0, "b": [5, 3, 6, 2, 2, 1, 2, 3, 4], "c": 1.5}
    texts = [s.text for s in walk(payload) if not s.is_key]
    assert texts == ["536221234", "536221234", "1.5"]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"employee": {"ssn": 536221234.0}}, "US_SSN"),
        ({"record": {"ssn_digits": [5, 3, 6, 2, 2, 1, 2, 3, 4]}}, "US_SSN"),
        ({"ssn_first": "536-22", "ssn_last": "1234"}, "US_SSN"),
        ({"text": "ssn, first part: 536-22\nand the rest: 1234"}, "US_SSN"),
        ({"text": "my ssn backwards: 4321-22-635"}, "US_SSN"),
        ({"card_a": "4111 1111", "card_b": "1111 1111"}, "CREDIT_CARD"),
        ({"payment": {"card_number": 4111111111111111}}, "CREDIT_CARD"),
        ({"text": "card number reversed: 7646343088419354"}, "CREDIT_CARD"),
        ({"text": "my JCB card 2131 0000 0000 001"}, "CREDIT_CARD"),
        ({"text": "iban for the refund: de89 3704 0044 0532 0130 00"}, "IBAN_CODE"),
        ({"text": "Call me on 030 1234567 tonight"}, "PHONE_NUMBER"),
        ({"text": "her direct line is x4412"}, "PHONE_NUMBER"),
        ({"contact": {"phone": "06 12 34 56 78"}}, "PHONE_NUMBER"),
    ],
)
def test_structural_layouts_are_found(engine: DLPEngine, payload: object, kind: str) -> None:
    assert kind in types_found(engine, payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "Tracking number 4826214198 shows the parcel in transit."},
        {"text": "The batch 0635 4668 8845 holds 181 items."},
        {"text": "Meeting ID 066 1759 7007, passcode 208."},
        {"parts": {"first": "536-22", "second": "1234"}},
        {"text": "card batch 4111 1111 1111 1112 was voided"},
    ],
)
def test_numbers_without_their_words_are_clean(engine: DLPEngine, payload: object) -> None:
    assert types_found(engine, payload) == set()


def test_structure_validators() -> None:
    assert ssn_split("536-22\nssn last: 1234") and not ssn_split("536-22-1234")
    assert card_any_brand("7646343088419354") and not card_any_brand("1234567812345678")
    assert iban_any_case("gb82 west 1234 5698 7654 32") and not iban_any_case("gb82 west 1234")
    assert phone_shape("(11) 93464-7255") and phone_shape("x2290") and not phone_shape("12/03/2024")
