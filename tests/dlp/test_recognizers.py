"""Every recognizer of policies/recognizers, through the engine: valid, invalid, context."""

from __future__ import annotations

import pytest

from mas_gateway.dlp import DLPEngine

from .helpers import found, types_found

PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBd8rZ2x3YwG5mQ0Vd1y7vX1q2p9Yk3Jt6Kc0v5Hh8VAwAAAJg=\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("entity", "text", "value"),
    [
        ("US_NPI", "Referring provider NPI 1234567893 signed.", "1234567893"),
        ("DEA_NUMBER", "Prescriber DEA number AB1234563 on file.", "AB1234563"),
        ("CREDIT_CARD", "Charge the Amex 3782 822463 10005 please", "3782 822463 10005"),
        ("CREDIT_CARD", "discover 6011-1111-1111-1117 exp 01/30", "6011-1111-1111-1117"),
        ("US_SSN", "her social security number is 536-22-1234", "536-22-1234"),
        ("HEALTH_PLAN_ID", "Medicare MBI 1EG4-TE5-MK73 on the card", "1EG4-TE5-MK73"),
        ("HEALTH_PLAN_ID", "Subscriber ID: XZH400123456 (Aetna)", "XZH400123456"),
        ("MEDICAL_RECORD_NUMBER", "Medical record number: A7654321", "A7654321"),
        ("ICD10_CODE", "Assessment: COVID-19, dx U07.1, isolate", "U07.1"),
        ("DATE_OF_BIRTH", "D.O.B. 3 March 1985, seen today", "3 March 1985"),
        ("DATE_OF_BIRTH", "born on 1985/03/03 in Ohio", "1985/03/03"),
        ("PHONE_NUMBER", "office +44 20 7946 0958 after 9", "+44 20 7946 0958"),
        ("PHONE_NUMBER", "cell: 415.892.7345", "415.892.7345"),
        (
            "IP_ADDRESS",
            "login from 2001:db8:85a3::8a2e:370:7334 failed",
            "2001:db8:85a3::8a2e:370:7334",
        ),
        ("EMAIL_ADDRESS", "write to dana.o'neil@clinic.example.org", "o'neil@clinic.example.org"),
        ("US_PASSPORT", "passport no. C03005988 expires 2030", "C03005988"),
        ("US_DRIVER_LICENSE", "driver licence D123-4567-8901", "D123-4567-8901"),
        ("AWS_ACCESS_KEY", "key=ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
        ("API_TOKEN", "GITLAB_TOKEN=glpat-x9Fh2KdLq0Zr7Ww3nB1m", "glpat-x9Fh2KdLq0Zr7Ww3nB1m"),
        (
            "API_TOKEN",
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        ("API_TOKEN", "postgres://app:S3cr3t-Pa55@db.internal:5432/app", "S3cr3t-Pa55"),
        ("API_TOKEN", 'client_secret: "Zq8vN2pL7xR4tY9wK3mB6cF1"', "Zq8vN2pL7xR4tY9wK3mB6cF1"),
        ("PRIVATE_KEY", "key:\n" + PEM, PEM),
        ("API_TOKEN", "Authorization: Basic YWRtaW46czNjcjN0UGFzcw==", "YWRtaW46czNjcjN0UGFzcw=="),
        ("IP_ADDRESS", "user logged in from 10.20.30.40", "10.20.30.40"),
        ("PHONE_NUMBER", "phone +1-916-802-3051x1234", "+1-916-802-3051x1234"),
    ],
)
def test_recognizer_finds_valid_value(
    engine: DLPEngine, entity: str, text: str, value: str
) -> None:
    hits = found(engine, {"text": text}, entity)
    assert any(value in hit or (hit in value and len(hit) >= len(value) // 2) for hit in hits), hits


@pytest.mark.parametrize(
    ("entity", "text"),
    [
        ("US_NPI", "Referring provider NPI 1234567890 signed."),
        ("DEA_NUMBER", "Prescriber DEA number AB1234564 on file."),
        ("CREDIT_CARD", "Charge the card 4111 1111 1111 1112 please"),
        ("CREDIT_CARD", "Batch reference 4111-1111-1111-1111 finished"),
        ("US_SSN", "her social security number is 666-22-1234"),
        ("HEALTH_PLAN_ID", "Medicare MBI 1EG4-TE5-MK7S on the card"),
        ("ICD10_CODE", "Vitamin B12 and E55.9 shaped tokens in a chemistry quiz"),
        ("ICD10_CODE", "Meet in room B12 at gate C60"),
        ("DATE_OF_BIRTH", "The meeting is on 1985-03-03 at noon"),
        ("DATE_OF_BIRTH", "date of birth 2999-01-01"),
        ("IP_ADDRESS", "python chem.py --host 127.0.0.1 --port 8080"),
        ("IP_ADDRESS", "Build 10.0.76738.1820 and section 6.9.8.2"),
        ("US_PASSPORT", "Order 123456789 shipped"),
        ("MEDICAL_RECORD_NUMBER", "processed job 1701737141 in 986 ms"),
        ("API_TOKEN", "export GITHUB_TOKEN=<your-token-here>; Authorization: Bearer ${API_TOKEN}"),
        ("API_TOKEN", "Merged c3ce052e96819b8ac3e6dfeb63cc17fd04d50149 into main"),
        ("EMAIL_ADDRESS", "meet (at) noon, bring the lab notebook"),
        ("PHONE_NUMBER", "Zoom meeting ID 867 1404 7137"),
        ("API_TOKEN", "docs use sk_test_xxxxxxxxxxxxxxxxxxxxxxxx as the key"),
        ("AWS_ACCESS_KEY", "the documented example AKIAIOSFODNN7EXAMPLE"),
        ("IP_ADDRESS", "the router's default gateway is 192.168.0.1"),
        ("IP_ADDRESS", "set DNS to 8.8.8.8"),
    ],
)
def test_recognizer_ignores_near_misses(engine: DLPEngine, entity: str, text: str) -> None:
    assert entity not in types_found(engine, {"text": text})


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Hi Dr. Raj Adams, it's Olivia Hill. The rash is back.", {"Raj Adams", "Olivia Hill"}),
        ("Thanks Chloe Lopez, the refill is ready.", {"Chloe Lopez"}),
        ("Forward it to Mary-Jane O'Neil (mj.oneil@example.org).", {"Mary-Jane O'Neil"}),
    ],
)
def test_person_names(engine: DLPEngine, text: str, names: set[str]) -> None:
    assert names <= set(found(engine, {"text": text}, "PERSON"))


@pytest.mark.parametrize(
    "text",
    [
        "Using Hess's law with three enthalpies",
        "Le Chatelier's principle explains the shift",
        "The Diels Alder reaction forms a ring",
        "Fe + O2 -> Fe2O3, balanced",
        "Stoichiometry Review is on Monday",
    ],
)
def test_person_ignores_eponyms_and_formulas(engine: DLPEngine, text: str) -> None:
    assert "PERSON" not in types_found(engine, {"text": text})


def test_person_from_field_name(engine: DLPEngine) -> None:
    result = engine.evaluate({"cardholder": "Ana Lucía Pérez", "title": "Order Review"})
    assert [(f.entity_type, f.path) for f in result.findings] == [("PERSON", "$.cardholder")]


def test_field_name_gives_context(engine: DLPEngine) -> None:
    assert "US_SSN" in types_found(engine, {"ssn": "536221234"})
    assert "US_SSN" not in types_found(engine, {"count": "536221234"})
    assert "DATE_OF_BIRTH" in types_found(engine, {"patient": {"dob": "1950-04-02"}})
    assert "DATE_OF_BIRTH" not in types_found(engine, {"invoice": {"due": "1950-04-02"}})
    assert "API_TOKEN" in types_found(engine, {"api_key": "dbb5c12959a2e7275b31f37f609c78e2"})


def test_long_texts_are_analysed_in_chunks(engine: DLPEngine) -> None:
    filler = "The titration data are in the shared folder. " * 1500
    text = filler + "Please call Oluwaseun Adeyemi tomorrow about the results."
    result = engine.evaluate({"report": text})
    names = [text[f.start : f.end] for f in result.findings if f.entity_type == "PERSON"]
    assert names == ["Oluwaseun Adeyemi"]


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Billing codes for the visit: M54.5 and G43.909", True),
        ("Problem list includes I10 and E66.9", True),
        ("Error code E11.9 in the printer log", False),
        ("Meet in room E11.9 after class", False),
    ],
)
def test_icd10_needs_clinical_context(engine: DLPEngine, text: str, flagged: bool) -> None:
    assert ("ICD10_CODE" in types_found(engine, {"text": text})) is flagged
