"""Evasion tricks: the value is still found, and the finding covers the original characters."""

# ruff: noqa: RUF001  (look-alike characters are the point of these tests)

from __future__ import annotations

import base64

import pytest

from mas_gateway.dlp import DLPEngine


@pytest.mark.parametrize(
    ("entity", "text", "flagged"),
    [
        (
            "CREDIT_CARD",
            "Card number: 45\u200b3201\u200b5111\u200c2874\u200d02",
            "45\u200b3201\u200b5111\u200c2874\u200d02",
        ),
        ("CREDIT_CARD", "card 4532.0151.1287.4018 exp 04/26", "4532.0151.1287.4018"),
        ("CREDIT_CARD", "cc 4 5 3 2 0 1 5 1 1 2 8 7 4 0 1 8 ok", "4 5 3 2 0 1 5 1 1 2 8 7 4 0 1 8"),
        ("US_SSN", "ssn ５３６-２２-１２３４ thanks", "５３６-２２-１２３４"),
        ("US_SSN", "SSN:\u00a0536\u00a022\u00a01234", "536\u00a022\u00a01234"),
        ("US_SSN", "sOcIaL sEcUrItY nUmBeR 536.22.1234", "536.22.1234"),
        ("US_SSN", "s.s.n: 5 3 6 2 2 1 2 3 4", "5 3 6 2 2 1 2 3 4"),
        ("US_SSN", "ssn 𝟓𝟑𝟔‐𝟐𝟐‐𝟏𝟐𝟑𝟒", "𝟓𝟑𝟔‐𝟐𝟐‐𝟏𝟐𝟑𝟒"),
        ("US_SSN", "ssn ٥٣٦-٢٢-١٢٣٤", "٥٣٦-٢٢-١٢٣٤"),
        ("PHONE_NUMBER", "Call me: (４１５) ８９２-７３４５", "(４１５) ８９２-７３４５"),
        ("EMAIL_ADDRESS", "Email DaNa.PaTeL@ExAmPlE.CoM now", "DaNa.PaTeL@ExAmPlE.CoM"),
        ("EMAIL_ADDRESS", "mail dana [at] example [dot] com", "dana [at] example [dot] com"),
        ("EMAIL_ADDRESS", "mail dаnа@ехаmple.com", "dаnа@ехаmple.com"),
        ("AWS_ACCESS_KEY", "AKIA\u200bJ7QW3XMPLR4N2T6B", "AKIA\u200bJ7QW3XMPLR4N2T6B"),
    ],
)
def test_evasion_is_flagged_on_original_text(
    engine: DLPEngine, entity: str, text: str, flagged: str
) -> None:
    result = engine.evaluate({"text": text})
    spans = [text[f.start : f.end] for f in result.findings if f.entity_type == entity]
    assert flagged in spans, spans


@pytest.mark.parametrize(
    ("entity", "secret"),
    [
        ("US_SSN", "SSN: 536-22-1234\n"),
        ("EMAIL_ADDRESS", "dana.patel@example.org"),
        ("CREDIT_CARD", "card 4111111111111111"),
    ],
)
def test_encoded_values_are_decoded(engine: DLPEngine, entity: str, secret: str) -> None:
    b64 = base64.b64encode(secret.encode()).decode()
    url64 = base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=")
    hexed = secret.encode().hex()
    for encoded in (b64, url64, hexed):
        payload = {"attachment": f"data: {encoded}"}
        result = engine.evaluate(payload)
        hits = [f for f in result.findings if f.entity_type == entity]
        assert hits, encoded
        assert payload["attachment"][hits[0].start : hits[0].end] == encoded


def test_nested_encoding_is_decoded(engine: DLPEngine) -> None:
    inner = base64.b64encode(b"ssn 536-22-1234").decode()
    outer = base64.b64encode(f"note: {inner}".encode()).decode()
    assert "US_SSN" in {f.entity_type for f in engine.evaluate({"blob": outer}).findings}


def test_random_base64_is_not_decoded_into_findings(engine: DLPEngine) -> None:
    noise = base64.b64encode(bytes(range(200, 248))).decode()
    assert engine.evaluate({"blob": noise}).action == "allow"
