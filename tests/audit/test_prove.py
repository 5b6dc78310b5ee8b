"""Inclusion proofs: built from Redis, checked offline, forged ones rejected."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas_gateway.audit import AuditCheckpointer, AuditError
from mas_gateway.audit.entry import append_entry
from mas_gateway.audit.merkle import MerkleTree, leaf_hash
from mas_gateway.audit.offline import verify_proof
from mas_gateway.audit.prove import build_proof
from mas_gateway.audit.verifier import load_stored_checkpoints, stored_leaves

from .helpers import SHARD, append_many, entry_bytes_for

Trusted = dict[str, Ed25519PublicKey]


@pytest.fixture
async def proof(redis_client: aioredis.Redis, checkpointer: AuditCheckpointer) -> dict[str, Any]:
    await append_many(redis_client, 23)
    await append_entry(
        redis_client, entry_bytes_for(7, denied=True), shard=SHARD
    )  # a second decision
    await checkpointer.checkpoint_now()
    return await build_proof(redis_client, "msg-00007")


async def test_proof_of_every_entry_of_a_message_verifies_offline(
    proof: dict[str, Any], trusted: Trusted
) -> None:
    assert [e["index"] for e in proof["entries"]] == [7, 23]
    assert [json.loads(e["entry"])["decision"] for e in proof["entries"]] == [
        "delivered",
        "denied",
    ]
    report = verify_proof(json.loads(json.dumps(proof)), trusted)
    assert report.ok, report.lines()
    assert "2 entries of message msg-00007 are in the log under checkpoint #2" in report.lines()[0]


def forge(proof: dict[str, Any], how: str) -> dict[str, Any]:
    forged = copy.deepcopy(proof)
    entry = forged["entries"][0]
    if how == "entry":
        entry["entry"] = entry["entry"].replace('"delivered"', '"denied"')
    elif how == "path":
        entry["path"][2] = "00" * 32
    elif how == "index":
        entry["index"] += 1
    elif how == "short_path":
        entry["path"] = entry["path"][:-1]
    elif how == "root":
        body = json.loads(forged["checkpoint"]["checkpoint"])
        body["root"] = "11" * 32
        forged["checkpoint"]["checkpoint"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return forged


@pytest.mark.parametrize("how", ["entry", "path", "index", "short_path"])
async def test_forged_inclusion_proofs_are_rejected(
    proof: dict[str, Any], trusted: Trusted, how: str
) -> None:
    report = verify_proof(forge(proof, how), trusted)
    first = report.first_bad_entry
    assert first is not None and first.message.startswith("not included"), report.lines()


async def test_a_checkpoint_with_a_forged_root_is_rejected(
    proof: dict[str, Any], trusted: Trusted
) -> None:
    report = verify_proof(forge(proof, "root"), trusted)
    assert any("does not verify" in f.message for f in report.findings)


async def test_a_lying_log_cannot_prove_an_entry_it_never_logged(
    redis_client: aioredis.Redis, proof: dict[str, Any], trusted: Trusted
) -> None:
    """The liar rebuilds the tree with its forged entry in place of #7 and proves that."""
    size = json.loads(proof["checkpoint"]["checkpoint"])["tree_size"]
    stored, _ = await load_stored_checkpoints(redis_client, shard=SHARD)
    leaves = stored_leaves(stored)
    assert leaves is not None
    forged_entry = entry_bytes_for(7, denied=True)
    lying_leaves = list(leaves[:size])
    lying_leaves[7] = leaf_hash(forged_entry)
    lying_path = MerkleTree(lying_leaves).inclusion_proof(7, size)
    lie = copy.deepcopy(proof)
    lie["entries"] = [
        {"index": 7, "entry": forged_entry.decode(), "path": [h.hex() for h in lying_path]}
    ]
    assert not verify_proof(lie, trusted).ok

    # An inner node dressed up as an entry (the pair #6, #7 as one "leaf" #3) fails too.
    honest_path = MerkleTree(leaves[:size]).inclusion_proof(6, size)
    lie["entries"] = [
        {
            "index": 3,
            "entry_b64": base64.b64encode(leaves[6] + leaves[7]).decode(),
            "path": [h.hex() for h in honest_path[1:]],
        }
    ]
    assert not verify_proof(lie, trusted).ok


async def test_unknown_and_unchecked_messages_are_reported(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer
) -> None:
    with pytest.raises(AuditError, match="no audit entry records message 'msg-00001'"):
        await build_proof(redis_client, "msg-00001")
    await append_many(redis_client, 3)
    with pytest.raises(AuditError, match="not covered by a checkpoint yet"):
        await build_proof(redis_client, "msg-00001")
    await checkpointer.checkpoint_now()
    await append_many(redis_client, 1, start=50)
    with pytest.raises(AuditError, match=r"logged \(entry #3\) but not covered"):
        await build_proof(redis_client, "msg-00050")
