"""Signed checkpoints: tree size, root hash, time and key id, chained and signed with Ed25519.

The signed body is canonical JSON; the signature covers ``mas.audit.checkpoint.v1\\n``
followed by the body, so it can never be replayed as any other MAS signature. Each
body names the digest of the previous body (``prev``) and a sequence number, so a
removed or reordered checkpoint breaks the chain.

In a shard's ``audit:checkpoints:{shard:N}`` each checkpoint is stored with two
unsigned helpers that the
signed root authenticates: ``frontier`` (the compact range of the tree, which lets the
next checkpoint extend it without rereading the log) and ``leaves`` (the leaf hashes
this checkpoint added, which let proofs be built and a bad entry be named exactly).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mas import crypto, keys
from mas.errors import SignatureError
from mas.redis_text import as_text

from .entry import canonical_json
from .errors import AuditFormatError
from .merkle import HASH_SIZE
from .streams import stream_entries

__all__ = [
    "CHECKPOINT_KIND",
    "CHECKPOINT_VERSION",
    "SIGNATURE_CONTEXT",
    "Checkpoint",
    "SignedCheckpoint",
    "StoredCheckpoint",
    "latest_checkpoint",
    "load_gateway_keys",
    "newest_checkpoint",
    "read_checkpoints",
    "sign_checkpoint",
]

CHECKPOINT_KIND = "mas.audit.checkpoint"
CHECKPOINT_VERSION = 2
"""Version 2 names its shard (version 1, from before the log was sharded, did not)."""
SIGNATURE_CONTEXT = b"mas.audit.checkpoint.v1\n"


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint states: the first `tree_size` entries have root `root`."""

    seq: int
    tree_size: int
    root: bytes
    prev: str | None
    last_id: str
    time: float
    gateway_id: str
    key_id: str
    shard: int = 0
    """The ingress shard whose log this checkpoint covers: signed, so a shard's log and
    checkpoints cannot pass for another shard's."""

    def body(self) -> bytes:
        """The canonical bytes that get signed."""
        return canonical_json(
            {
                "kind": CHECKPOINT_KIND,
                "v": CHECKPOINT_VERSION,
                "shard": self.shard,
                "seq": self.seq,
                "tree_size": self.tree_size,
                "root": self.root.hex(),
                "prev": self.prev,
                "last_id": self.last_id,
                "time": round(self.time, 6),
                "gateway_id": self.gateway_id,
                "key_id": self.key_id,
            }
        )

    @classmethod
    def from_body(cls, body: bytes) -> Checkpoint:
        """Parse signed bytes strictly; `AuditFormatError` names the bad field."""
        try:
            obj = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise AuditFormatError("checkpoint body is not JSON") from exc
        if (
            not isinstance(obj, dict)
            or obj.get("kind") != CHECKPOINT_KIND
            or obj.get("v") != CHECKPOINT_VERSION
        ):
            raise AuditFormatError(f"not a version {CHECKPOINT_VERSION} audit checkpoint")
        data: dict[str, Any] = obj  # pyright: ignore[reportUnknownVariableType]
        try:
            checkpoint = cls(
                seq=_int(data, "seq"),
                tree_size=_int(data, "tree_size"),
                root=bytes.fromhex(_str(data, "root")),
                prev=None if data.get("prev") is None else _str(data, "prev"),
                last_id=_str(data, "last_id"),
                time=float(data["time"]),
                gateway_id=_str(data, "gateway_id"),
                key_id=_str(data, "key_id"),
                shard=_int(data, "shard"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditFormatError(f"checkpoint has a missing or invalid field: {exc}") from exc
        if checkpoint.shard >= keys.INGRESS_SHARDS:
            raise AuditFormatError(f"checkpoint names shard {checkpoint.shard}, which is no shard")
        if len(checkpoint.root) != HASH_SIZE or not math.isfinite(checkpoint.time):
            raise AuditFormatError("checkpoint root must be 32 bytes and time a number")
        if checkpoint.body() != body:
            raise AuditFormatError("checkpoint body is not in canonical form")
        return checkpoint


def _int(data: dict[str, Any], name: str) -> int:
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _str(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its exact signed bytes and signature."""

    body: bytes
    signature: str
    checkpoint: Checkpoint

    @property
    def key_id(self) -> str:
        """Id of the key that signed it."""
        return self.checkpoint.key_id

    def digest(self) -> str:
        """SHA-256 hex of the body: what the next checkpoint names as ``prev``."""
        return hashlib.sha256(self.body).hexdigest()

    def verify(self, trusted: Mapping[str, Ed25519PublicKey]) -> None:
        """Raise `SignatureError` unless a trusted key signed exactly this body."""
        key = trusted.get(self.key_id)
        if key is None:
            raise SignatureError(f"signed by key {self.key_id!r}, which is not trusted")
        crypto.verify(key, SIGNATURE_CONTEXT + self.body, self.signature)

    def to_json(self) -> dict[str, str]:
        """Portable form, e.g. for proofs, exports and witnesses."""
        return {
            "checkpoint": self.body.decode("utf-8"),
            "signature": self.signature,
            "key_id": self.key_id,
        }

    @classmethod
    def parse(cls, body: bytes, signature: bytes | str) -> SignedCheckpoint:
        """From stored bytes; `AuditFormatError` when malformed."""
        return cls(body, as_text(signature), Checkpoint.from_body(body))

    @classmethod
    def from_json(cls, obj: Any) -> SignedCheckpoint:
        """Inverse of `to_json`; `AuditFormatError` when malformed."""
        if not isinstance(obj, dict):
            raise AuditFormatError("a signed checkpoint must be a JSON object")
        body, signature = obj.get("checkpoint"), obj.get("signature")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if not isinstance(body, str) or not isinstance(signature, str):
            raise AuditFormatError("a signed checkpoint needs 'checkpoint' and 'signature' text")
        return cls.parse(body.encode("utf-8"), signature)


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    """Sign a checkpoint; its `key_id` must be the key's id."""
    if checkpoint.key_id != crypto.key_id(key):
        raise ValueError("checkpoint key_id does not match the signing key")
    body = checkpoint.body()
    return SignedCheckpoint(body, crypto.sign(key, SIGNATURE_CONTEXT + body), checkpoint)


@dataclass(frozen=True)
class StoredCheckpoint:
    """One entry of a shard's checkpoint stream: the signed checkpoint and its helpers."""

    stream_id: str
    signed: SignedCheckpoint
    frontier: bytes
    leaves: bytes

    @property
    def checkpoint(self) -> Checkpoint:
        """The signed statement."""
        return self.signed.checkpoint

    def fields(self) -> dict[str, bytes]:
        """Stream fields to XADD."""
        return {
            "checkpoint": self.signed.body,
            "signature": self.signed.signature.encode("ascii"),
            "key_id": self.signed.key_id.encode("ascii"),
            "frontier": self.frontier,
            "leaves": self.leaves,
        }

    @classmethod
    def from_fields(cls, stream_id: str, fields: Mapping[str, bytes]) -> StoredCheckpoint:
        """Parse a stream entry; `AuditFormatError` names what is missing."""
        body, signature = fields.get("checkpoint"), fields.get("signature")
        if body is None or signature is None:
            raise AuditFormatError(f"checkpoint entry {stream_id} lacks checkpoint or signature")
        signed = SignedCheckpoint.parse(body, signature)
        return cls(stream_id, signed, fields.get("frontier", b""), fields.get("leaves", b""))


async def read_checkpoints(
    client: aioredis.Redis, *, shard: int
) -> list[tuple[str, dict[str, bytes]]]:
    """Every raw entry of one shard's checkpoint stream in order, as (stream id, fields)."""
    out: list[tuple[str, dict[str, bytes]]] = []
    start = "-"
    while True:
        batch = stream_entries(
            await client.xrange(keys.audit_checkpoints(shard), min=start, count=500)
        )
        out.extend(batch)
        if len(batch) < 500:
            return out
        start = f"({out[-1][0]}"


async def latest_checkpoint(client: aioredis.Redis, *, shard: int) -> StoredCheckpoint | None:
    """The newest checkpoint of one shard, parsed (not verified)."""
    newest = stream_entries(await client.xrevrange(keys.audit_checkpoints(shard), count=1))
    return StoredCheckpoint.from_fields(*newest[0]) if newest else None


async def newest_checkpoint(client: aioredis.Redis) -> StoredCheckpoint | None:
    """The most recently signed checkpoint of any shard, parsed (not verified)."""
    newest: StoredCheckpoint | None = None
    for shard in range(keys.INGRESS_SHARDS):
        stored = await latest_checkpoint(client, shard=shard)
        if stored is not None and (
            newest is None or stored.checkpoint.time > newest.checkpoint.time
        ):
            newest = stored
    return newest


async def load_gateway_keys(client: aioredis.Redis) -> dict[str, Ed25519PublicKey]:
    """Public keys published in ``mas.gateway.keys``, indexed by their computed key id."""
    trusted: dict[str, Ed25519PublicKey] = {}
    published = await client.hgetall(keys.GATEWAY_KEYS)
    for value in published.values():
        try:
            key = crypto.load_public_key(value)
        except SignatureError:
            continue
        trusted[crypto.key_id(key)] = key
    return trusted
