"""Decoding helpers for values read from Redis clients without decode_responses."""

from __future__ import annotations

__all__ = ["as_text"]


def as_text(value: bytes | str) -> str:
    """UTF-8 text of a Redis reply value."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
