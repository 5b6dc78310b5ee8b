"""Payloads of the gateway benchmark: clean text, or text in which the DLP must run NER.

Every payload is different (it carries its message's index spelled in letters),
so the DLP's cache of recent payloads never answers for a scan. Clean text is
lowercase words the pattern pre-screen settles on its own; NER text names a
person (not on the policy's allow list), so the spaCy model must run and the
default policy redacts the name on delivery.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["BENCH_TYPE", "Traffic", "message_id", "payload_text"]

BENCH_TYPE = "load.bench"
"""Message type of benchmark traffic (the bench policy allows ``load.*``)."""

Traffic = Literal["clean", "ner"]

_FILLER = (
    "the quarterly stock count of the north warehouse matches the ledger and the "
    "shipment schedule for the coming weeks stays as agreed with the carriers "
)
_FIRST = ("Margaret", "Daniel", "Priya", "Tomasz", "Aisha", "Kenji", "Lucia", "Oliver")
_LAST = ("Whitfield", "Okafor", "Lindqvist", "Moreau", "Castellanos", "Nakamura", "Brennan")


def _letters(index: int) -> str:
    """`index` in base 26 with the letters a-z (no digits a detector could read as a number)."""
    out = ""
    while True:
        index, digit = divmod(index, 26)
        out = chr(ord("a") + digit) + out
        if index == 0:
            return out


def _fill(text: str, size: int) -> str:
    if len(text) >= size:
        return text[:size] if size else ""
    repeat = (size - len(text)) // len(_FILLER) + 1
    return (text + _FILLER * repeat)[:size]


def payload_text(traffic: Traffic, index: int, size: int) -> str:
    """The text of message `index`: `size` characters (NER text: at least its sentence)."""
    tag = f"ref {_letters(index)}: "
    if traffic == "clean":
        return _fill(tag, size)
    first, last = _FIRST[index % len(_FIRST)], _LAST[(index // len(_FIRST)) % len(_LAST)]
    sentence = f"{tag}please ask {first} {last} to confirm the delivery window. "
    return _fill(sentence, max(size, len(sentence)))


def message_id(run: str, index: int) -> str:
    """The caller-chosen message id of message `index` of a run (unique per run and sender)."""
    return f"{run}-{index}"
