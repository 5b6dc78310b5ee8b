"""Finding encoded text inside a value (base64, base64url, hex) so it can be scanned decoded."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["decoded_runs"]

_RUN = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 4:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    if printable < 0.95 * len(text) or not any(c.isalnum() for c in text):
        return None
    return text


def _decode(run: str) -> str | None:
    body = run.rstrip("=")
    if _HEX.fullmatch(body) and len(body) % 2 == 0:
        text = _readable(binascii.unhexlify(body))
        if text is not None:
            return text
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    alphabets = []
    if "-" in body or "_" in body:
        alphabets.append(b"-_")
    if "+" in body or "/" in body or not alphabets:
        alphabets.append(b"+/")
    for alt in alphabets:
        try:
            raw = base64.b64decode(padded, altchars=alt, validate=True)
        except (binascii.Error, ValueError):
            continue
        text = _readable(raw)
        if text is not None:
            return text
    return None


def decoded_runs(text: str, min_length: int) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) for each encoded run of `text` that decodes to readable text."""
    out: list[tuple[int, int, str]] = []
    if len(text) < min_length:
        return out
    for m in _RUN.finditer(text):
        run = m.group()
        if len(run) < min_length:
            continue
        decoded = _decode(run)
        if decoded is not None and decoded != run:
            out.append((m.start(), m.end(), decoded))
    return out
