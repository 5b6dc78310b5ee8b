"""Validators: check digits and structure accept real shapes and refuse near misses."""

from __future__ import annotations

import base64
import json

import pytest

from mas_gateway.dlp.recognizers.checksums import VALIDATORS, entropy, is_placeholder


def _jwt(header: dict[str, str]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
    return f"{part}.eyJzdWIiOiIxIn0.c2ln"


@pytest.mark.parametrize(
    ("validator", "valid", "invalid"),
    [
        ("luhn_card", "4111 1111 1111 1111", "4111 1111 1111 1112"),
        ("luhn_card", "5555-5555-5555-4444", "5555-5555-5555-4445"),
        ("luhn_card", "3782 822463 10005", "3782 822463 10006"),
        ("luhn_card", "6011111111111117", "6011111111111118"),
        ("luhn_card", "3530111333300000", "3530111333300001"),
        ("luhn_card", "30569309025904", "30569309025905"),
        ("luhn_card", "6200000000000005", "0000000000000000"),
        ("npi", "1234567893", "1234567890"),
        ("npi", "2000000002", "0324284542"),
        ("dea", "AB1234563", "AB1234564"),
        ("dea", "F91234563", "Q91234563"),
        ("ssn", "536-22-1234", "000-47-7801"),
        ("ssn", "772 11 0001", "666-12-3456"),
        ("ssn", "219-09-9998", "912-34-5678"),
        ("mbi", "1EG4-TE5-MK73", "1EG4-TE5-MK7S"),
        ("mbi", "9AA0AA0AA00", "0AA0AA0AA00"),
        ("icd10", "E11.9", "E1.19"),
        ("icd10", "J45.909", "J4X.9"),
        ("ip_address", "203.0.113.7", "127.0.0.1"),
        ("ip_address", "2001:db8::1", "fe80::1"),
        ("ip_address", "8.26.4.1", "10.1.2.3"),
        ("private_ip_address", "192.168.10.4", "8.26.4.1"),
        (
            "vendor_token",
            "ghp_x9Fh2KdLq0Zr7Ww3nB1mQ5tY8uI4oP6aS2dF",
            "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx",
        ),
        ("vendor_token", "AKIAJ7QW3XMPLR4N2T6B", "AKIAIOSFODNN7EXAMPLE"),
        ("basic_auth", "YWRtaW46czNjcjN0UGFzcw==", "bm90IGEgcGFpcg=="),
        ("birth_date", "1964-09-03", "2999-01-01"),
        ("birth_date", "March 21, 1996", "02/30/1990"),
        ("phone", "(415) 892-7345", "(123) 456-7890"),
        ("phone", "+1-916-802-3051x1234", "415-911-7345"),
        ("phone", "001-720-555-0134", "1-020-555-0134"),
        ("phone", "+44 20 7946 0958", "+44 12"),
        ("secret", "rBbzhSUwUObxPcL0Pi_Bn_ZiE_Rbw6Xurxu3QiAZ", "<your-token-here>"),
        ("secret", "dbb5c12959a2e7275b31f37f609c78e2", "aaaaaaaaaaaaaaaaaaaaaaaa"),
        ("password", "hunter2!x", "*****"),
        ("jwt", _jwt({"alg": "HS256", "typ": "JWT"}), _jwt({"user": "x"})),
    ],
)
def test_validator_accepts_valid_and_refuses_invalid(
    validator: str, valid: str, invalid: str
) -> None:
    check = VALIDATORS[validator]
    assert check(valid) is True
    assert check(invalid) is False


def test_secret_refuses_jwt_so_it_is_reported_as_jwt() -> None:
    assert VALIDATORS["secret"](_jwt({"alg": "HS256"}) + "abcdefghij") is False


@pytest.mark.parametrize("value", ["${API_TOKEN}", "<token>", "xxxxxxxx", "REDACTED", "changeme"])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


def test_entropy() -> None:
    assert entropy("aaaa") == 0.0
    assert entropy("abcd") == 2.0
