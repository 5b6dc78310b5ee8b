"""The result of a verification, and the checks on a sequence of signed checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas.errors import SignatureError

from .checkpoint import SignedCheckpoint
from .recompute import Finding, LeafHints, Target

__all__ = ["VerifyReport", "Witness", "check_chain", "check_witness", "plural"]


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class Witness:
    """A checkpoint kept outside the log (and, from an old export, its leaf hashes)."""

    checkpoint: SignedCheckpoint
    hints: LeafHints | None = None


@dataclass
class VerifyReport:
    """What was checked and what failed; `ok` only when nothing did."""

    source: str
    shard: int | None = None
    """The ingress shard whose log this is (None for a file or a combined report)."""
    entries: int = 0
    archived: int = 0
    checkpoints: int = 0
    verified_size: int = 0
    tree_size: int = 0
    root: str | None = None
    key_ids: list[str] = field(default_factory=list[str])
    findings: list[Finding] = field(default_factory=list[Finding])
    notes: list[str] = field(default_factory=list[str])
    summary: str = ""
    """What a successful check established, when the default wording does not fit."""

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.findings

    @property
    def first_bad_entry(self) -> Finding | None:
        """The earliest finding that names an entry."""
        named = [f for f in self.findings if f.index is not None]
        return min(named, key=lambda f: f.index or 0) if named else None

    def to_json(self) -> dict[str, Any]:
        """Machine-readable form (``--json``)."""
        first = self.first_bad_entry
        return {
            "ok": self.ok,
            "source": self.source,
            "shard": self.shard,
            "entries": self.entries,
            "archived": self.archived,
            "checkpoints": self.checkpoints,
            "verified_size": self.verified_size,
            "tree_size": self.tree_size,
            "root": self.root,
            "key_ids": self.key_ids,
            "first_bad_entry": first.to_json() if first else None,
            "findings": [f.to_json() for f in self.findings],
            "notes": self.notes,
            "summary": self.summary,
        }

    def lines(self) -> list[str]:
        """Human-readable lines: a verdict first, then details."""
        if self.ok and self.summary:
            out = [
                f"OK: {self.source}: {self.summary}; root {self.root or '-'}",
                f"signing keys: {', '.join(self.key_ids) or '-'}",
            ]
        elif self.ok:
            out = [
                f"OK: {self.source}: {plural(self.entries, 'entry', 'entries')} "
                f"({self.archived} archived), {plural(self.checkpoints, 'checkpoint')}; "
                f"tree size {self.tree_size} "
                f"root {self.root or '-'}; every signature and root verified, "
                "each checkpoint consistent with the one before",
                f"signing keys: {', '.join(self.key_ids) or '-'}",
            ]
        else:
            out = [f"FAILED: {self.source}"]
            first = self.first_bad_entry
            if first is not None:
                out.append(f"first bad entry: {first.describe()}")
            out.extend(f"- {f.describe()}" for f in self.findings if f is not first)
        out.extend(f"note: {note}" for note in self.notes)
        return out


def check_chain(
    signed: Sequence[SignedCheckpoint],
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    where: Sequence[str] | None = None,
    shard: int | None = None,
) -> tuple[list[Target], list[Finding]]:
    """Verify signatures, the shard and the seq/prev chain; return the checkpoints to trust.

    `shard` is the shard whose log is checked; without it (an export) every checkpoint
    must name the shard the first one names.
    """
    targets: list[Target] = []
    findings: list[Finding] = []
    previous: SignedCheckpoint | None = None
    if shard is None and signed:
        shard = signed[0].checkpoint.shard
    for position, item in enumerate(signed):
        cp = item.checkpoint
        label = f"checkpoint #{cp.seq}" + (f" ({where[position]})" if where else "")
        try:
            item.verify(trusted)
        except SignatureError as exc:
            findings.append(Finding("checkpoint", f"{label}: {exc}"))
            previous = item
            continue
        if cp.shard != shard:
            findings.append(Finding("checkpoint", _foreign(label, cp.shard, shard)))
            previous = item
            continue
        if cp.seq != position:
            findings.append(
                Finding(
                    "checkpoint",
                    f"{label} is at position {position}: checkpoints were removed or reordered",
                )
            )
        expected_prev = previous.digest() if previous is not None else None
        if cp.prev != expected_prev:
            findings.append(
                Finding("checkpoint", f"{label} does not chain to the checkpoint before it")
            )
        if previous is not None and cp.tree_size < previous.checkpoint.tree_size:
            findings.append(
                Finding(
                    "checkpoint",
                    f"{label} shrinks the log from {previous.checkpoint.tree_size} "
                    f"to {cp.tree_size} entries",
                )
            )
        targets.append(Target(cp, label))
        previous = item
    return targets, findings


def check_witness(
    witness: SignedCheckpoint,
    signed: Sequence[SignedCheckpoint],
    trusted: Mapping[str, Ed25519PublicKey],
    shard: int | None = None,
) -> tuple[Target | None, list[Finding]]:
    """Check a checkpoint kept outside the log; return it as a target when it is genuine.

    `shard` is the shard whose log is checked; without it, the shard of the log's
    first checkpoint, if any.
    """
    label = f"the witnessed checkpoint #{witness.checkpoint.seq}"
    try:
        witness.verify(trusted)
    except SignatureError as exc:
        return None, [Finding("witness", f"{label}: {exc}")]
    if shard is None and signed:
        shard = signed[0].checkpoint.shard
    if shard is not None and witness.checkpoint.shard != shard:
        return None, [Finding("witness", _foreign(label, witness.checkpoint.shard, shard))]
    findings: list[Finding] = []
    same_seq = [s for s in signed if s.checkpoint.seq == witness.checkpoint.seq]
    if same_seq and all(s.body != witness.body for s in same_seq):
        findings.append(
            Finding(
                "witness",
                f"checkpoint #{witness.checkpoint.seq} in the log differs from {label}: "
                "the log's head was reset and re-signed",
            )
        )
    elif not same_seq and signed and signed[-1].checkpoint.seq < witness.checkpoint.seq:
        findings.append(
            Finding(
                "witness",
                f"the log's checkpoints end at #{signed[-1].checkpoint.seq}, before {label}: "
                "later checkpoints were removed",
            )
        )
    elif not signed:
        findings.append(
            Finding("witness", f"the log holds no checkpoint, but {label} exists: it was erased")
        )
    return Target(witness.checkpoint, label), findings


def _foreign(label: str, signed_for: int, checked: int | None) -> str:
    return (
        f"{label} was signed for the log of shard {signed_for}, not shard {checked}: "
        "logs or checkpoints of two shards were swapped"
    )
