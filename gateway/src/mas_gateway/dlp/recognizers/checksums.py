"""Validators for recognizer matches: check digits, structure and entropy.

A recognizer file names a validator (``validator: luhn_card``); a match that the
validator rejects is dropped, one that passes keeps its pattern score. Each
validator takes the matched text and returns True when it is plausible.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import math
import re
from collections import Counter
from collections.abc import Callable

import phonenumbers

__all__ = ["VALIDATORS", "entropy", "is_placeholder", "luhn_ok"]

_DIGITS = re.compile(r"\D")


def _digits(text: str) -> str:
    return _DIGITS.sub("", text)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards and NPIs."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


# Issuer identification number prefixes of the major card networks, with lengths.
_CARD_RANGES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),  # Visa
    (51, 55, (16,)),  # Mastercard
    (2221, 2720, (16,)),  # Mastercard 2-series
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),
    (6011, 6011, (16, 17, 18, 19)),  # Discover
    (644, 649, (16, 17, 18, 19)),
    (65, 65, (16, 17, 18, 19)),
    (622126, 622925, (16, 17, 18, 19)),  # Discover / China UnionPay co-branded
    (62, 62, (16, 17, 18, 19)),  # UnionPay
    (3528, 3589, (16, 17, 18, 19)),  # JCB
    (2131, 2131, (15,)),  # JCB (15 digits)
    (1800, 1800, (15,)),
    (300, 305, (14, 16, 17, 18, 19)),  # Diners Club
    (36, 36, (14, 16, 17, 18, 19)),
    (38, 39, (14, 16, 17, 18, 19)),
    (50, 50, (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
    (56, 58, (12, 13, 14, 15, 16, 17, 18, 19)),
    (639, 639, (12, 13, 14, 15, 16, 17, 18, 19)),
    (67, 67, (12, 13, 14, 15, 16, 17, 18, 19)),
    (2200, 2204, (16, 17, 18, 19)),  # Mir
    (60, 60, (16,)),  # RuPay
    (81, 82, (16,)),
    (508, 508, (16,)),
)


def luhn_card(text: str) -> bool:
    """A payment card number: known network prefix, valid length, Luhn check."""
    digits = _digits(text)
    if not 12 <= len(digits) <= 19 or len(set(digits)) < 2 or not luhn_ok(digits):
        return False
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        prefix = int(digits[:width])
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


def npi(text: str) -> bool:
    """A US National Provider Identifier: 10 digits from 1 or 2, Luhn over "80840" + digits."""
    digits = _digits(text)
    return len(digits) == 10 and digits[0] in "12" and luhn_ok("80840" + digits)


def dea(text: str) -> bool:
    """A DEA registration number: 2 letters, 7 digits, weighted check digit."""
    value = re.sub(r"[\s-]", "", text).upper()
    if not re.fullmatch(r"[A-Z][A-Z9]\d{7}", value):
        return False
    if value[0] not in "ABCDEFGHJKLMPRSTUX":
        return False
    d = [int(c) for c in value[2:]]
    check = (d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])
    return check % 10 == d[6]


def ssn(text: str) -> bool:
    """A US SSN that the SSA could issue: area not 000/666/9xx, group and serial not zero."""
    digits = _digits(text)
    if len(digits) != 9 or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in ("078051120", "219099999")  # numbers the SSA voided after misuse


_MBI_LETTER = "ACDEFGHJKMNPQRTUVWXY"


def mbi(text: str) -> bool:
    """A Medicare Beneficiary Identifier (11 characters in the CMS layout)."""
    v = re.sub(r"[\s-]", "", text).upper()
    if len(v) != 11:
        return False
    alnum = _MBI_LETTER + "0123456789"
    shape = (
        "123456789",
        _MBI_LETTER,
        alnum,
        "0123456789",
        _MBI_LETTER,
        alnum,
        "0123456789",
        _MBI_LETTER,
        _MBI_LETTER,
        "0123456789",
        "0123456789",
    )
    return all(c in allowed for c, allowed in zip(v, shape, strict=True))


def icd10(text: str) -> bool:
    """An ICD-10(-CM) code shape: letter, digit, digit or A/B, optional subcode."""
    v = text.strip().upper()
    m = re.fullmatch(r"([A-Z])(\d)([0-9AB])(?:\.?([0-9A-Z]{1,4}))?", v)
    return m is not None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        return None
    return ip


_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def _is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(ip.version == net.version and ip in net for net in _PRIVATE_NETS)


def ip_address(text: str) -> bool:
    """An IP address outside the private ranges (one that can point at a person's device)."""
    ip = _ip(text)
    return ip is not None and not _is_private(ip)


def private_ip_address(text: str) -> bool:
    """A private-range (RFC 1918 / ULA) address: an internal host, sensitive only in context."""
    ip = _ip(text)
    return ip is not None and _is_private(ip)


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}


def _full_year(year: int) -> int:
    """A two-digit year in the most recent century that puts it in the past."""
    if year >= 100:
        return year
    this_year = dt.date.today().year
    return 2000 + year if 2000 + year <= this_year else 1900 + year


def _date_parts(text: str) -> list[tuple[int, int, int]]:
    """Candidate (year, month, day) readings of a date string."""
    t = text.strip().lower().replace(",", " ")
    nums = [int(n) for n in re.findall(r"\d+", t)]
    words = re.findall(r"[a-z]+", t)
    month_word = next((_MONTHS[w] for w in words if w in _MONTHS), None)
    out: list[tuple[int, int, int]] = []
    if month_word is not None:
        days = [n for n in nums if n <= 31]
        years = [n for n in nums if n > 31 or len(str(n)) == 4]
        if not years and "'" in t and len(days) == 2:  # Apr 3 '88
            years = days[1:]
        if days and years:
            out.append((_full_year(years[0]), month_word, days[0]))
        return out
    digits = re.findall(r"\d+", t)
    if len(digits) == 1 and len(digits[0]) == 8:  # 19791203
        d = digits[0]
        return [(int(d[:4]), int(d[4:6]), int(d[6:]))]
    if len(nums) != 3:
        return out
    a, b, c = nums
    if a > 31:  # year first
        out.append((a, b, c))
    else:  # month/day/year or day/month/year
        year = c if c > 99 else (1900 + c if c > 30 else 2000 + c)
        out.append((year, a, b))
        out.append((year, b, a))
    return out


def birth_date(text: str) -> bool:
    """A real calendar date in the past 130 years."""
    today = dt.date.today()
    for year, month, day in _date_parts(text):
        try:
            d = dt.date(year, month, day)
        except ValueError:
            continue
        if today.year - 130 <= d.year and d <= today:
            return True
    return False


_SEQUENCES = frozenset({"1234567890", "0123456789", "9876543210"})
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d{1,6}\s*$", re.IGNORECASE)


def phone(text: str) -> bool:
    """A phone number: North American plan rules for 10 digits, libphonenumber for +CC numbers."""
    value = _EXTENSION.sub("", text)
    digits = _digits(value)
    if value.lstrip().startswith("+") and not value.lstrip().startswith("+1"):
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.is_valid_number(number)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif len(digits) == 13 and digits.startswith("001"):
        digits = digits[3:]
    if len(digits) != 10 or len(set(digits)) <= 2 or digits in _SEQUENCES:
        return False  # placeholders such as (555) 555-5555 or 123-456-7890
    area, exchange = digits[:3], digits[3:6]
    return (
        area[0] in "23456789"
        and area[1:] != "11"
        and exchange[0] in "23456789"
        and (exchange[1:] != "11")
    )


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_PLACEHOLDER = re.compile(
    r"[<>{}]|\$\(|\.\.\.|^(?:x+|\*+|#+|-+|_+|0+)$|your[_-]?|example|placeholder|redacted|"
    r"changeme|dummy|sample|secret[_-]?here|token[_-]?here|key[_-]?here|xxxx|\*\*\*|"
    r"^(?:true|false|null|none|bearer|basic|password|secret|token)$",
    re.IGNORECASE,
)


def is_placeholder(text: str) -> bool:
    """Template or masked values such as ``<your-token>``, ``${TOKEN}``, ``xxxx``."""
    return _PLACEHOLDER.search(text) is not None


def _classes(text: str) -> int:
    return sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
        )
    )


def secret(text: str) -> bool:
    """A credential-looking token: long, random-looking, not a template or a word."""
    value = text.strip("\"'`")
    if len(value) < 16 or is_placeholder(value) or (value.startswith("eyJ") and jwt(value)):
        return False
    if re.fullmatch(r"[0-9a-fA-F]{32,}", value):
        return entropy(value) >= 3.0
    if re.fullmatch(r"\d+", value) or _classes(value) < 2:
        return False
    return entropy(value) >= 3.2


def vendor_token(text: str) -> bool:
    """A token in a vendor's format that is not a documented example or a template."""
    return not is_placeholder(text) and entropy(text) >= 2.5


def basic_auth(text: str) -> bool:
    """HTTP Basic credentials: base64 of ``user:password``."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, sep, secret_part = raw.partition(":")
    return bool(sep and user and secret_part) and not is_placeholder(raw)


def password(text: str) -> bool:
    """A password value: anything of 6+ characters that is not a template or mask."""
    value = text.strip("\"'`")
    return len(value) >= 6 and not is_placeholder(value)


def _b64json(part: str) -> dict[str, object] | None:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def jwt(text: str) -> bool:
    """A JSON Web Token whose header decodes to a JSON object naming an algorithm or type."""
    header = _b64json(text.split(".", 1)[0])
    return header is not None and ("alg" in header or "typ" in header)


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn_card": luhn_card,
    "npi": npi,
    "dea": dea,
    "ssn": ssn,
    "mbi": mbi,
    "icd10": icd10,
    "ip_address": ip_address,
    "private_ip_address": private_ip_address,
    "vendor_token": vendor_token,
    "basic_auth": basic_auth,
    "phone": phone,
    "birth_date": birth_date,
    "secret": secret,
    "password": password,
    "jwt": jwt,
}
