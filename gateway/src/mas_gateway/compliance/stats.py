"""Counting the audit entries of the report period: decisions, denials, DLP findings, time.

Only the fields the gateway writes are read (decision, rule, policy version, DLP entity
types and counts, sender, key id, time); nothing here ever sees a payload.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..audit.entry import build_audit_entry, parse_entry
from ..context import MessageContext
from .period import Period, bucket_size

__all__ = [
    "POLICY_DECISIONS",
    "AuditStats",
    "audit_fields",
]

POLICY_DECISIONS = frozenset({"delivered", "redacted", "denied", "rate_limited", "blocked"})
"""Decisions taken after authorization, so their entries must name the policy version."""
DELIVERED = frozenset({"delivered", "redacted"})
UNMODIFIED_BUT_FLAGGED = frozenset({"block", "redact"})
"""DLP actions under which a plain ``delivered`` decision would mean DLP was bypassed."""


@cache
def audit_fields() -> tuple[frozenset[str], frozenset[str]]:
    """The top-level and ``dlp`` field names of an audit entry, as the audit package writes it."""
    sample = json.loads(build_audit_entry(MessageContext("0-0", {}), gateway_id="-", key_id="-"))
    return frozenset(sample), frozenset(sample["dlp"])


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class AuditStats:
    """What the audit entries of the period show; fill with `add`, then read."""

    period: Period
    scanned: int = 0
    """Entries read (whole log), in or out of the period."""
    entries: int = 0
    """Entries in the period."""
    unreadable: int = 0
    undated: int = 0
    by_decision: Counter[str] = field(default_factory=Counter[str])
    denials_by_rule: Counter[str] = field(default_factory=Counter[str])
    denial_versions: dict[str, set[str]] = field(default_factory=dict[str, set[str]])
    """Policy versions under which each rule denied."""
    unattributed_denials: int = 0
    dlp_scanned: int = 0
    dlp_entities: Counter[str] = field(default_factory=Counter[str])
    dlp_decisions_by_entity: dict[str, Counter[str]] = field(
        default_factory=dict[str, Counter[str]]
    )
    dlp_bypassed: int = 0
    """Entries delivered unmodified although DLP's action was block or redact."""
    unexpected_fields: Counter[str] = field(default_factory=Counter[str])
    versions: Counter[str] = field(default_factory=Counter[str])
    unversioned: int = 0
    """Policy decisions whose entry names no policy version."""
    delivered_senders: set[str] = field(default_factory=set[str])
    key_ids: Counter[str] = field(default_factory=Counter[str])
    times: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]])

    def add(self, raw: bytes) -> None:
        """Count one entry (its bytes as stored in the log)."""
        self.scanned += 1
        entry = parse_entry(raw)
        if entry is None:
            self.unreadable += 1
            return
        when = _number(entry.get("time"))
        if when is None:
            self.undated += 1
            return
        if not self.period.contains(when):
            return
        self.entries += 1
        self._fields(entry)
        decision = str(entry.get("decision"))
        self.by_decision[decision] += 1
        self.times.append((when, decision))
        rule = entry.get("rule")
        version = entry.get("policy_version")
        if decision == "denied":
            if isinstance(rule, str) and rule and isinstance(version, str) and version:
                self.denials_by_rule[rule] += 1
                self.denial_versions.setdefault(rule, set()).add(version)
            else:
                self.unattributed_denials += 1
                self.denials_by_rule["(no rule recorded)"] += 1
        if decision in POLICY_DECISIONS:
            if isinstance(version, str) and version:
                self.versions[version] += 1
            else:
                self.unversioned += 1
        sender = entry.get("sender")
        if decision in DELIVERED and isinstance(sender, str):
            self.delivered_senders.add(sender)
        key_id = entry.get("key_id")
        if isinstance(key_id, str):
            self.key_ids[key_id] += 1
        self._dlp(entry.get("dlp"), decision)

    def _fields(self, entry: dict[str, Any]) -> None:
        top, dlp = audit_fields()
        self.unexpected_fields.update(name for name in entry if name not in top)
        section = entry.get("dlp")
        if isinstance(section, dict):
            self.unexpected_fields.update(
                f"dlp.{name}"
                for name in section  # pyright: ignore[reportUnknownVariableType]
                if name not in dlp
            )

    def _dlp(self, section: Any, decision: str) -> None:
        if not isinstance(section, dict):
            return
        action = section.get("action")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if action is not None:
            self.dlp_scanned += 1
        if decision == "delivered" and action in UNMODIFIED_BUT_FLAGGED:
            self.dlp_bypassed += 1
        entities = section.get("entities")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if not isinstance(entities, dict):
            return
        for name, count in entities.items():  # pyright: ignore[reportUnknownVariableType]
            amount = _number(count)
            if amount is None or amount <= 0:
                continue
            entity = str(name)  # pyright: ignore[reportUnknownArgumentType]
            self.dlp_entities[entity] += int(amount)
            self.dlp_decisions_by_entity.setdefault(entity, Counter())[decision] += 1

    # -- views ---------------------------------------------------------------------
    def timeline(self) -> dict[str, Any]:
        """Decisions per time bucket, each bucket a count per decision (empty ones included)."""
        if not self.times:
            return {"bucket_seconds": 0, "decisions": [], "buckets": []}
        first = min(when for when, _ in self.times)
        last = max(when for when, _ in self.times)
        size = bucket_size(first, last)
        start = math.floor(first / size) * size
        count = int((last - start) // size) + 1
        buckets: list[Counter[str]] = [Counter() for _ in range(count)]
        for when, decision in self.times:
            buckets[int((when - start) // size)][decision] += 1
        decisions = sorted(self.by_decision)
        return {
            "bucket_seconds": size,
            "decisions": decisions,
            "buckets": [
                {"start": start + i * size, "counts": {d: bucket[d] for d in decisions}}
                for i, bucket in enumerate(buckets)
            ],
        }
