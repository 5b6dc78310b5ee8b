"""What a scan finds and what the policy decides; no type here ever holds a payload value."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mas_gateway.context import DLPFinding

from .payload import Loc, render_path

__all__ = ["DLPResult", "Finding", "RawFinding", "ScanResult", "describe"]


@dataclass(frozen=True)
class RawFinding:
    """A match of one entity type in one payload text (offsets into the original text)."""

    entity_type: str
    loc: Loc
    positions: tuple[int, ...]
    start: int
    end: int
    score: float
    is_key: bool = False


@dataclass(frozen=True)
class ScanResult:
    """Everything found in one payload, before any route's rules apply."""

    findings: tuple[RawFinding, ...] = ()
    error: str | None = None
    """Why the payload could not be scanned (e.g. over the size limits); fail closed."""

    def hidden_keys(self) -> frozenset[Loc]:
        """Locations of dict keys that hold sensitive data (never shown in paths)."""
        return frozenset(f.loc for f in self.findings if f.is_key)


@dataclass(frozen=True)
class Finding:
    """A finding the policy acts on: type, JSON path, span, score and action."""

    entity_type: str
    path: str
    start: int
    end: int
    score: float
    action: str

    def to_context(self) -> DLPFinding:
        """The pipeline's value-free record of this finding."""
        return DLPFinding(self.entity_type, self.path, self.start, self.end, round(self.score, 4))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (no value)."""
        return {
            "type": self.entity_type,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "action": self.action,
        }


@dataclass(frozen=True)
class DLPResult:
    """The decision for one payload on one route."""

    action: str
    """``allow``, ``alert``, ``redact`` or ``block`` (the most severe finding's action)."""
    findings: tuple[Finding, ...] = ()
    """Findings at or above their threshold whose action is not ``allow``."""
    redacted_payload: dict[str, Any] | None = None
    """The payload with redacted values replaced (set when action is ``redact``)."""
    redacted_paths: tuple[str, ...] = ()
    route: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """True when the message must not be delivered."""
        return self.action == "block"

    def reason(self) -> str:
        """A rejection reason naming entity types and paths, never values."""
        if self.error:
            return f"blocked by DLP: {self.error}"
        blocking = [f for f in self.findings if f.action == "block"]
        return "blocked by DLP: " + describe(blocking or self.findings)


def describe(findings: Iterable[Finding]) -> str:
    """``US_SSN at $.ssn; PERSON at $.name`` (types and paths only)."""
    seen: dict[tuple[str, str], None] = {}
    for f in findings:
        seen[(f.entity_type, f.path)] = None
    return "; ".join(f"{t} at {p}" for t, p in seen) or "sensitive data"


def finding_path(raw: RawFinding, hidden: frozenset[Loc]) -> str:
    """The JSON path of a raw finding with sensitive keys shown by position."""
    return render_path(raw.loc, raw.positions, hidden)
