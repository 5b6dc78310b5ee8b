"""Validators for identifiers laid out to dodge a scanner: split, reversed, any brand or case.

A match may span two texts of the analysis document (two fields of one object, or two
lines), each line starting with its field's words and a colon; those prefixes are
dropped before the digits are checked. Reversed identifiers count only when the
reversed digits pass the identifier's own check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from presidio_analyzer.predefined_recognizers.generic.iban_patterns import (
    regex_per_country,
)

from .checksums import luhn_card, luhn_ok, ssn

__all__ = ["STRUCTURE_VALIDATORS", "split_digits"]

_DIGIT_LINE = re.compile(r"[\d \t.\-]+")
_NON_DIGIT = re.compile(r"\D")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def split_digits(text: str) -> str:
    """The digits of a match, without those of field names after a line break.

    After the first line, a line keeps what follows its colon ("ssn part2: 0273"); a line
    with no colon counts only if it holds nothing but digits (else it names a field).
    """
    first, *rest = text.split("\n")
    parts = [first]
    for line in rest:
        if ":" in line:
            parts.append(line.rsplit(":", 1)[1])
        elif _DIGIT_LINE.fullmatch(line):
            parts.append(line)
    return _NON_DIGIT.sub("", "".join(parts))


def ssn_split(text: str) -> bool:
    """An SSN whose parts sit in two fields or on two lines."""
    return "\n" in text and ssn(split_digits(text))


def ssn_reversed(text: str) -> bool:
    """An SSN written backwards (``6789-45-123``)."""
    return ssn(_NON_DIGIT.sub("", text)[::-1])


def card_split(text: str) -> bool:
    """A payment card number whose groups sit in two fields or on two lines."""
    return "\n" in text and luhn_card(split_digits(text))


def card_any_brand(text: str) -> bool:
    """12 to 19 digits passing Luhn, forwards or backwards (context decides it is a card)."""
    digits = _NON_DIGIT.sub("", text)
    if not 12 <= len(digits) <= 19 or len(set(digits)) < 3:
        return False
    return luhn_ok(digits) or luhn_card(digits[::-1])


@cache
def _iban_format(country: str) -> re.Pattern[str] | None:
    """The country's IBAN layout (length and letter/digit positions), as Presidio knows it."""
    layout = regex_per_country.get(country)
    return re.compile(layout) if layout is not None else None


def iban_any_case(text: str) -> bool:
    """An IBAN in any letter case: the country's layout and the mod-97 check."""
    value = _NON_ALNUM.sub("", text).upper()
    if not 15 <= len(value) <= 34 or not value[:2].isalpha() or not value[2:4].isdigit():
        return False
    layout = _iban_format(value[:2])
    if layout is None or not layout.fullmatch(value):
        return False
    moved = value[4:] + value[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


_DATE_LIKE = re.compile(
    r"^\s*(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}[/.-]\d{1,2}[/.-]\d{1,2})\s*$"
)


def phone_shape(text: str) -> bool:
    """Digits laid out as a phone number: 7 to 15 of them (an extension aside), not a date."""
    if _DATE_LIKE.match(text):
        return False
    main = re.split(r"(?i)\s*(?:x|ext\.?|extension)\s*(?=\d)", text, maxsplit=1)[0]
    digits = _NON_DIGIT.sub("", main)
    if not digits:
        return bool(re.fullmatch(r"(?i)\s*(?:x|ext\.?|extension)\s*\d{3,5}\s*", text))
    return 7 <= len(digits) <= 15 and len(set(digits)) > 2


STRUCTURE_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "ssn_split": ssn_split,
    "ssn_reversed": ssn_reversed,
    "card_split": card_split,
    "card_any_brand": card_any_brand,
    "iban_any_case": iban_any_case,
    "phone_shape": phone_shape,
}
