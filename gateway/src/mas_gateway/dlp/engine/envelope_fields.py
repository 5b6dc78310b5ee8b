"""Envelope fields other than ``data``, scanned with it: a finding there blocks (451).

Their grammar keeps these fields to identifier characters, but an identifier can still
hold digits (an SSN as a correlation id), a name (``patient.JohnSmith``) or text in hex.
Each field is scanned as written and, when that differs, as words (``patient John
Smith``) so that the recognizers see names written as identifiers. Redaction cannot
apply to routing fields, so any finding that reaches its entity's threshold blocks,
whatever the entity's action on the route. Agent ids are not scanned: they name
registered agents. Nor is traceparent: its grammar (fixed-length lower-case hex, set
by tracing libraries) leaves no room for text written by a person, and read as
digits a random span id is a Luhn-valid 16-digit "card number" about once in
18,000 messages, which would block clean traffic. The message type and tracestate
repeat from message to message, so their scans are cached like payloads; ids and
nonce are unique, so theirs are not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mas.envelope import Envelope

from ...context import DLPFinding
from ..loading.policy import DLPPolicy
from .results import ScanResult

__all__ = [
    "ID_FIELDS",
    "NO_TEXTS",
    "SCANNED_FIELDS",
    "EnvelopeTexts",
    "FieldTexts",
    "describe_fields",
    "field_findings",
    "field_texts",
    "words",
]

ID_FIELDS = ("message_id", "correlation_id", "in_reply_to", "nonce")
SCANNED_FIELDS = ("message_type", *ID_FIELDS, "trace.tracestate")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[._:]+|-(?![0-9])|(?<![0-9])-")


def words(text: str) -> str:
    """``patient.JohnSmith_visit`` → ``patient John Smith visit``; digit groups keep hyphens."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", text)).strip()


@dataclass(frozen=True)
class FieldTexts:
    """The texts to scan for one envelope (a JSON list) and the field each one is from."""

    names: tuple[str, ...]
    texts: tuple[str, ...]

    def field_of(self, index: int) -> str:
        """Name of the envelope field the text at `index` comes from (``trace.tracestate``)."""
        return self.names[index]


@dataclass(frozen=True)
class EnvelopeTexts:
    """One envelope's texts: those that repeat across messages (cacheable) and the rest."""

    repeating: FieldTexts
    unique: FieldTexts


def _texts(items: list[tuple[str, str | None, bool]]) -> FieldTexts:
    names: list[str] = []
    texts: list[str] = []
    for name, value, as_words in items:
        if not value:
            continue
        names.append(name)
        texts.append(value)
        spaced = words(value) if as_words else value
        if spaced != value:
            names.append(name)
            texts.append(spaced)
    return FieldTexts(tuple(names), tuple(texts))


NO_TEXTS = EnvelopeTexts(FieldTexts((), ()), FieldTexts((), ()))


def field_texts(envelope: Envelope) -> EnvelopeTexts:
    """Every envelope field that can carry text, as written and as words."""
    trace = envelope.trace
    repeating = _texts(
        [
            ("message_type", envelope.message_type, True),
            ("trace.tracestate", trace.get("tracestate"), True),
        ]
    )
    unique = _texts(
        [
            *((name, getattr(envelope, name), True) for name in ID_FIELDS),
        ]
    )
    return EnvelopeTexts(repeating, unique)


def field_findings(
    policy: DLPPolicy, scans: Iterable[tuple[ScanResult, FieldTexts]]
) -> list[DLPFinding]:
    """Findings at or above their entity's own threshold, one per entity type and field."""
    found: dict[tuple[str, str], DLPFinding] = {}
    for scan, fields in scans:
        for f in scan.findings:
            if not f.loc or not isinstance(f.loc[0], int) or f.is_key:
                continue
            if f.score < policy.rule_for(f.entity_type, None).threshold:
                continue
            field = fields.field_of(f.loc[0])
            key = (f.entity_type, field)
            if key not in found or found[key].score < f.score:
                found[key] = DLPFinding(f.entity_type, f"envelope.{field}", 0, 0, round(f.score, 4))
    return list(found.values())


def describe_fields(findings: Iterable[DLPFinding]) -> str:
    """``US_SSN in envelope field message_type`` (types and field names only)."""
    return "; ".join(
        f"{f.entity_type} in envelope field {f.path.removeprefix('envelope.')}" for f in findings
    )
