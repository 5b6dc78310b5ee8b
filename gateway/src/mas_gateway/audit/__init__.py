"""The verifiable audit log: entries, RFC 6962 Merkle tree, signed checkpoints and proofs."""

from __future__ import annotations

from .checkpoint import Checkpoint, SignedCheckpoint, StoredCheckpoint, sign_checkpoint
from .checkpointer import AuditCheckpointer
from .entry import DECISIONS, ENTRY_FIELD, append_entry, build_audit_entry, canonical_json
from .errors import AuditError, AuditFormatError, AuditIntegrityError
from .merkle import CompactRange, MerkleTree, leaf_hash, node_hash
from .proofs import verify_consistency, verify_inclusion
from .replay import Finding
from .report import VerifyReport
from .verifier import verify_log

__all__ = [
    "DECISIONS",
    "ENTRY_FIELD",
    "AuditCheckpointer",
    "AuditError",
    "AuditFormatError",
    "AuditIntegrityError",
    "Checkpoint",
    "CompactRange",
    "Finding",
    "MerkleTree",
    "SignedCheckpoint",
    "StoredCheckpoint",
    "VerifyReport",
    "append_entry",
    "build_audit_entry",
    "canonical_json",
    "leaf_hash",
    "node_hash",
    "sign_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
