"""The verifiable audit log: entries, RFC 6962 Merkle tree, signed checkpoints and proofs.

How it fits together:

- Each gateway decision becomes one canonical JSON entry (`entry`), appended to
  the audit log of the sender's ingress shard (``audit:messages:{shard:N}``) by the
  gateway's commit script, atomically with the delivery and
  the ingress acknowledgement. The leaves of the tree are those entries in stream
  order, so any number of gateway processes may append at once.
- `AuditCheckpointer` (one runs in each gateway; a lock and WATCH let one work at a
  time) extends the tree from the stored frontier and appends an Ed25519-signed
  `checkpoint` (sequence number, tree size, root, digest of the previous checkpoint)
  every N entries or T seconds. It refuses to sign on top of a head that does not
  verify, after deletions shown by the stream counters, or when the head went back.
- `verify_log` recomputes the tree (across archive segments) and checks every signature,
  the chain, and every signed root; a mismatch is pinned to the first bad entry with the
  stored leaf hashes, once those are shown to hash to the signed root. `prove` and
  `export` produce documents that `offline` checks with a pinned public key only.

What it cannot see alone: someone with write access to Redis who rewrites the log,
removes the newest checkpoints and lets a restarted gateway sign again leaves a
consistent log. A checkpoint kept elsewhere (``mas audit checkpoint``, an export, a
proof) passed as a witness catches that; so does pinning the gateway key, against a
log re-signed with another key.
"""

from __future__ import annotations

from .checkpoint import Checkpoint, SignedCheckpoint, StoredCheckpoint, sign_checkpoint
from .checkpointer import AuditCheckpointer
from .entry import DECISIONS, ENTRY_FIELD, append_entry, build_audit_entry, canonical_json
from .errors import AuditError, AuditFormatError, AuditIntegrityError
from .merkle import CompactRange, MerkleTree, leaf_hash, node_hash
from .proofs import verify_consistency, verify_inclusion
from .recompute import Finding
from .report import VerifyReport
from .verifier import verify_log
from .witness import WitnessFile

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
    "WitnessFile",
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
