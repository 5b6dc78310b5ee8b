"""Layouts and spellings beyond the common ones: card groupings, dates, labelled ids, words."""

from __future__ import annotations

import base64

import pytest

from mas_gateway.dlp import DLPEngine

from .helpers import found, types_found


@pytest.mark.parametrize(
    ("entity", "text", "value"),
    [
        ("CREDIT_CARD", "unionpay card=621721-0937265663420 declined", "621721-0937265663420"),
        ("CREDIT_CARD", "my maestro card is 5018 9386 3839 6784 523", "5018 9386 3839 6784 523"),
        ("CREDIT_CARD", "discover 60-11-89-56-83-76-40-28", "60-11-89-56-83-76-40-28"),
        ("CREDIT_CARD", "card: 4739_9554_0829_0687", "4739_9554_0829_0687"),
        ("CREDIT_CARD", "card:\n4619 9994\n6565 5429\nthanks", "4619 9994\n6565 5429"),
        ("US_SSN", "social: 042/41/9073", "042/41/9073"),
        ("US_SSN", "Soc Sec # 344.32.1538", "344.32.1538"),
        ("DATE_OF_BIRTH", "patient dob Apr 3 '88, seen today", "Apr 3 '88"),
        ("DATE_OF_BIRTH", "PID|1||DOB 19791203|F", "19791203"),
        ("MEDICAL_RECORD_NUMBER", "identifier MRN-833920 linked", "MRN-833920"),
        ("HEALTH_PLAN_ID", "Insurance member # W571432037-01 (Aetna PPO)", "W571432037-01"),
        ("US_DRIVER_LICENSE", "driver's license S439-198-93-004-8", "S439-198-93-004-8"),
        ("AWS_ACCESS_KEY", "key id AKIA V5U4 TOVX LRDS B2N4", "AKIA V5U4 TOVX LRDS B2N4"),
        ("US_SSN", "S S N: 5 2 3 - 7 1 - 6 7 8 9", "5 2 3 - 7 1 - 6 7 8 9"),
        ("PHONE_NUMBER", "Ring Mrs Okafor on 0161 496 0753 tomorrow", "0161 496 0753"),
    ],
)
def test_layout(engine: DLPEngine, entity: str, text: str, value: str) -> None:
    assert value in found(engine, {"text": text}, entity)


def test_card_brand_anywhere_in_the_message(engine: DLPEngine) -> None:
    text = "Charge the Maestro ending... actually here is the full number 5018 9386 3839 6784 523"
    assert found(engine, {"text": text}, "CREDIT_CARD") == ["5018 9386 3839 6784 523"]


@pytest.mark.parametrize(
    ("entity", "text", "value"),
    [
        ("US_SSN", "ok my social is four three three six six one three zero four", "four"),
        ("PHONE_NUMBER", "call me at two oh six, five five five, zero one six seven", "two"),
        (
            "CREDIT_CARD",
            "card number four nine five four nine six eight six five four six zero eight three "
            "five one",
            "four",
        ),
    ],
)
def test_digits_spelled_out(engine: DLPEngine, entity: str, text: str, value: str) -> None:
    values = found(engine, {"text": text}, entity)
    assert len(values) == 1 and values[0].startswith(value)


@pytest.mark.parametrize(
    "text",
    [
        "Placeholders: (555) 555-5555, 123-456-7890",
        "Sample address for the tutorial: user@example.com",
        "Write to you@example.org for the docs",
        "CPT 99213 is an established-patient office visit code",
        "one two three four five six seven, that's the count",
        "Batch 6011 8956 8376 4028 was reconciled against the card ledger",
    ],
)
def test_not_sensitive(engine: DLPEngine, text: str) -> None:
    assert types_found(engine, {"text": text}) == set()


def test_documentation_domain_with_a_real_name_still_counts(engine: DLPEngine) -> None:
    assert found(engine, {"text": "mail ana.reyes@clinic.example.org"}, "EMAIL_ADDRESS") == [
        "ana.reyes@clinic.example.org"
    ]


def test_every_type_in_decoded_text_is_reported(engine: DLPEngine) -> None:
    blob = base64.b64encode(b"Patient: Grace Hopper, DOB 1906-12-09, MRN 44556677").decode()
    kinds = types_found(engine, {"attachment": blob})
    assert {"PERSON", "DATE_OF_BIRTH", "MEDICAL_RECORD_NUMBER"} <= kinds
