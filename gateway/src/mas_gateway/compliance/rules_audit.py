"""Evidence rules on the audit log: verification, completeness, attribution, no payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .evidence import Evidence

__all__ = [
    "audit_minimal",
    "audit_recorded",
    "audit_verified",
    "decisions_versioned",
    "deliveries_signed",
    "denials_attributed",
    "listing",
]

Verdict = tuple[Literal["pass", "fail", "manual"], str]


def listing(counts: Mapping[str, int], limit: int = 5) -> str:
    """`a (3), b (1)` for the largest counts, with the number of others left out."""
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{name} ({count})" for name, count in items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def audit_verified(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """The whole log recomputes to every signed checkpoint root; counters show no deletion."""
    report = evidence.audit
    if not report.ok:
        first = report.first_bad_entry or report.findings[0]
        more = len(report.findings) - 1
        extra = f" (and {more} more finding{'s' if more > 1 else ''})" if more > 0 else ""
        return "fail", f"audit verification failed: {first.describe()}{extra}"
    if report.entries == 0:
        return "manual", "the audit log is empty: there is no decision to verify"
    if report.checkpoints == 0:
        return "manual", (
            f"{report.entries} entries, but no signed checkpoint covers them yet, so nothing "
            "proves they were not rewritten; verify again once a checkpoint is written"
        )
    uncovered = report.entries - report.tree_size
    reason = (
        f"{report.entries} entries ({report.archived} archived) and {report.checkpoints} signed "
        f"checkpoints verified; tree size {report.tree_size}, root {(report.root or '')[:16]}..., "
        f"signed by {', '.join(report.key_ids) or '-'}"
    )
    if uncovered > 0:
        reason += f"; the {uncovered} newest entries are not under a checkpoint yet"
    if report.notes and any("pin them" in note for note in report.notes):
        reason += "; keys were read from Redis (pin them with --pubkey for an independent check)"
    return "pass", reason


def audit_recorded(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """The period has decisions, and every entry of the log is a readable, dated record."""
    stats = evidence.stats
    broken = stats.unreadable + stats.undated
    if broken:
        return "fail", (
            f"{broken} of {stats.scanned} audit entries are not readable records "
            f"({stats.unreadable} not JSON objects, {stats.undated} without a time)"
        )
    if stats.entries == 0:
        return "manual", "no decision was recorded in the period"
    return "pass", (
        f"{stats.entries} decisions recorded in the period: {listing(stats.by_decision, 10)}"
    )


def audit_minimal(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Entries carry only the fields the gateway writes: ids, decision, hashes, entity types."""
    stats = evidence.stats
    if stats.unexpected_fields:
        return "fail", (
            "audit entries carry fields the gateway never writes (a payload or a value may "
            f"have leaked into the log): {listing(stats.unexpected_fields)}"
        )
    if stats.entries == 0:
        return "manual", "no audit entry in the period to inspect"
    return "pass", (
        f"all {stats.entries} entries of the period hold only audit fields (ids, decision, "
        "rule, policy version, SHA-256 digests, DLP entity types and counts); no payload"
    )


def denials_attributed(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """No denied decision without the rule and policy version that decided it."""
    stats = evidence.stats
    denied = stats.by_decision.get("denied", 0)
    if stats.unattributed_denials:
        return "fail", (
            f"{stats.unattributed_denials} of {denied} denied decisions name no rule "
            "or no policy version"
        )
    if denied == 0:
        return "pass", "no denied decision in the period, so none lacks its rule"
    return "pass", (
        f"each of the {denied} denied decisions names its rule and policy version: "
        f"{listing(stats.denials_by_rule)}"
    )


def decisions_versioned(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Every policy decision names a version that a gateway recorded as in force."""
    stats = evidence.stats
    if evidence.history_problems:
        return "fail", f"the policy version history is damaged: {evidence.history_problems[0]}"
    decided = stats.unversioned + sum(stats.versions.values())
    if stats.unversioned:
        return "fail", f"{stats.unversioned} of {decided} policy decisions name no policy version"
    if decided == 0:
        return "manual", "no policy decision in the period"
    recorded = {record.version for record in evidence.history}
    unknown = {v[:12]: n for v, n in stats.versions.items() if v not in recorded}
    if unknown:
        return "fail", (
            "decisions were made under policy versions missing from the version history "
            f"(no gateway recorded putting them in force): {listing(unknown)}"
        )
    return "pass", (
        f"{decided} policy decisions name {len(stats.versions)} version(s), each recorded "
        f"in the history: {listing({v[:12]: n for v, n in stats.versions.items()})}"
    )


def deliveries_signed(evidence: Evidence, _params: Mapping[str, Any]) -> Verdict:
    """Every decision names a gateway key that is published in ``mas.gateway.keys``."""
    stats = evidence.stats
    if not stats.key_ids:
        return "manual", "no decision in the period names a gateway key"
    unknown = {k: n for k, n in stats.key_ids.items() if k not in evidence.gateway_keys}
    if unknown:
        return "fail", (f"decisions name gateway keys that are not published: {listing(unknown)}")
    return "pass", (
        "every decision of the period was taken and signed by a gateway whose Ed25519 key "
        f"is published: {listing(stats.key_ids)}"
    )
