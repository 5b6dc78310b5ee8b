"""Verify an export or an inclusion proof without Redis, with pinned public keys only.

An export is checked like the live log: signatures and chain of every checkpoint, the
consistency proof between each pair, then the tree recomputed from the entries (after
the compact range of the earlier ones) against every signed root it reaches. A witness
(a checkpoint, proof or older export kept elsewhere) catches an export whose tail was
cut off together with its last checkpoints.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas.errors import ConfigError, SignatureError

from .checkpoint import SignedCheckpoint
from .errors import AuditFormatError
from .export import EXPORT_KIND, Export
from .exportfile import parse_export
from .log import LogEntry, entry_from_json
from .merkle import leaf_hash
from .proofs import verify_consistency, verify_inclusion
from .prove import PROOF_KIND
from .recompute import Finding, LeafHints, TreeRecomputation
from .report import VerifyReport, Witness, check_chain, check_witness, plural

__all__ = ["load_witness", "verify_export", "verify_file", "verify_proof"]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text") from exc


def _kind(text: str) -> str:
    """``export``, ``proof`` or ``checkpoint``; `AuditFormatError` for anything else."""
    first = text.lstrip().split("\n", 1)[0]
    if first.startswith("#") or f'"kind":"{EXPORT_KIND}"' in first.replace(" ", ""):
        return "export"
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise AuditFormatError("not an audit export, proof or checkpoint (not JSON)") from exc
    if isinstance(obj, dict) and obj.get("kind") == PROOF_KIND:  # pyright: ignore[reportUnknownMemberType]
        return "proof"
    if isinstance(obj, dict) and "checkpoint" in obj and "signature" in obj:
        return "checkpoint"
    raise AuditFormatError("not an audit export, proof or checkpoint")


def load_witness(path: Path) -> Witness:
    """A signed checkpoint from a checkpoint, proof or export file (exports add leaf hashes)."""
    text = _read(path)
    kind = _kind(text)
    if kind == "export":
        export = parse_export(text)
        if not export.checkpoints:
            raise AuditFormatError(f"{path}: the export carries no checkpoint")
        hints = LeafHints(export.leaves, export.left) if export.leaves is not None else None
        return Witness(export.checkpoints[-1], hints)
    obj = json.loads(text)
    return Witness(SignedCheckpoint.from_json(obj["checkpoint"] if kind == "proof" else obj))


def verify_export(
    export: Export,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    witness: Witness | None = None,
    source: str = "audit export",
) -> VerifyReport:
    """Check an export; the report names the first bad entry when there is one."""
    report = VerifyReport(source=source)
    targets, findings = check_chain(export.checkpoints, trusted)
    report.findings.extend(findings)
    pairs = list(itertools.pairwise(export.checkpoints))
    if len(export.consistency) != len(pairs):
        report.findings.append(
            Finding(
                "checkpoint",
                f"the export has {len(export.consistency)} consistency "
                f"proofs for {len(pairs)} pairs of checkpoints",
            )
        )
    for (old, new), proof in zip(pairs, export.consistency, strict=False):
        a, b = old.checkpoint, new.checkpoint
        if not verify_consistency(a.tree_size, b.tree_size, a.root, b.root, proof):
            report.findings.append(
                Finding(
                    "checkpoint",
                    f"checkpoint #{b.seq} is not consistent with checkpoint #{a.seq}: "
                    "the signed history was rewritten",
                )
            )
    if witness is not None:
        target, findings = check_witness(witness.checkpoint, export.checkpoints, trusted)
        report.findings.extend(findings)
        if target is not None:
            if target.checkpoint.tree_size <= export.start and not any(
                c.body == witness.checkpoint.body for c in export.checkpoints
            ):
                report.notes.append("the witness predates the exported entries; not compared")
            targets.append(target)

    tree = TreeRecomputation(targets, left=export.left)
    for position, entry in enumerate(export.entries):
        if not tree.add(LogEntry(export.start + position, entry.stream_id, entry.raw)):
            break
    tree.finish()
    if tree.failed is not None:
        hints: list[LeafHints] = []
        if export.leaves is not None:
            hints.append(LeafHints(export.leaves, export.left))
        if witness is not None and witness.hints is not None:
            hints.append(witness.hints)
        report.findings.append(tree.locate(hints))
    elif export.start + len(export.entries) > export.tree_size:
        extra = export.entries[export.tree_size - export.start]
        report.findings.append(
            Finding(
                "entry",
                "inserted: the export goes on past its last checkpoint, which no signature covers",
                export.tree_size,
                extra.stream_id,
                extra.message_id,
            )
        )
    report.entries = export.start + len(export.entries)
    report.archived = export.start
    report.checkpoints = len(export.checkpoints)
    report.verified_size = tree.verified_size
    report.tree_size = export.tree_size
    report.root = export.checkpoints[-1].checkpoint.root.hex() if export.checkpoints else None
    report.key_ids = sorted({c.key_id for c in export.checkpoints})
    if export.start:
        report.notes.append(f"entries before #{export.start} are not in this export")
    if not export.checkpoints:
        report.findings.append(Finding("checkpoint", "the export carries no signed checkpoint"))
    return report


def verify_proof(
    proof: Mapping[str, Any],
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    source: str = "inclusion proof",
) -> VerifyReport:
    """Check every entry of a proof document against its signed checkpoint."""
    report = VerifyReport(source=source)
    signed = SignedCheckpoint.from_json(proof.get("checkpoint"))
    checkpoint = signed.checkpoint
    try:
        signed.verify(trusted)
    except SignatureError as exc:
        report.findings.append(Finding("checkpoint", f"checkpoint #{checkpoint.seq}: {exc}"))
    entries = proof.get("entries")
    if not isinstance(entries, list) or not entries:
        raise AuditFormatError("the proof holds no entries")
    for item in entries:  # pyright: ignore[reportUnknownVariableType]
        try:
            index = int(item["index"])  # pyright: ignore[reportUnknownArgumentType]
            raw = entry_from_json(item)  # pyright: ignore[reportUnknownArgumentType]
            path = [bytes.fromhex(h) for h in item["path"]]  # pyright: ignore[reportUnknownVariableType]
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditFormatError(f"a proof entry is malformed: {exc}") from exc
        entry = LogEntry(index, str(item.get("stream_id", "")), raw)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        if not verify_inclusion(leaf_hash(raw), index, checkpoint.tree_size, path, checkpoint.root):
            report.findings.append(
                Finding(
                    "entry",
                    f"not included: its audit path does not lead to the signed root of "
                    f"checkpoint #{checkpoint.seq}",
                    index,
                    entry.stream_id,
                    entry.message_id,
                )
            )
    report.entries = len(entries)  # pyright: ignore[reportUnknownArgumentType]
    report.checkpoints = 1
    report.tree_size = checkpoint.tree_size
    report.verified_size = checkpoint.tree_size
    report.root = checkpoint.root.hex()
    report.key_ids = [signed.key_id]
    report.summary = (
        f"{plural(len(entries), 'entry', 'entries')} of message {proof.get('message_id')} "  # pyright: ignore[reportUnknownArgumentType]
        f"{'is' if len(entries) == 1 else 'are'} in the log "  # pyright: ignore[reportUnknownArgumentType]
        f"under checkpoint #{checkpoint.seq} (tree size {checkpoint.tree_size})"
    )
    return report


def verify_file(
    path: Path, trusted: Mapping[str, Ed25519PublicKey], *, witness: Witness | None = None
) -> VerifyReport:
    """Verify an export (JSONL or CSV) or a proof file, whichever `path` holds."""
    text = _read(path)
    kind = _kind(text)
    if kind == "export":
        return verify_export(parse_export(text), trusted, witness=witness, source=str(path))
    if kind == "checkpoint":
        raise AuditFormatError(f"{path} holds a single checkpoint: pass it as --witness")
    if witness is not None:
        raise ConfigError("--witness applies to a log or an export, not to a proof")
    return verify_proof(json.loads(text), trusted, source=str(path))
