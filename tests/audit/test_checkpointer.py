"""The checkpointer: incremental signed checkpoints, fail-closed checks, concurrent gateways."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mas import crypto, keys
from mas_gateway.audit import AuditCheckpointer, AuditIntegrityError, MerkleTree, verify_log
from mas_gateway.audit.checkpoint import SIGNATURE_CONTEXT, latest_checkpoint
from mas_gateway.audit.merkle import leaf_hash
from mas_gateway.audit.verifier import load_stored_checkpoints

from .helpers import SHARD, append_many, read_stream, rewrite_stream


async def test_checkpoints_cover_every_entry_and_are_signed(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, signing_key: Ed25519PrivateKey
) -> None:
    assert await checkpointer.checkpoint_now() is None
    ids = await append_many(redis_client, 25)
    latest = await checkpointer.checkpoint_now()
    assert latest is not None
    cp = latest.checkpoint
    assert (cp.seq, cp.tree_size, cp.last_id) == (2, 25, ids[-1])
    entries = await read_stream(redis_client, keys.audit_log(SHARD))
    expected = MerkleTree([leaf_hash(fields["entry"]) for _, fields in entries])
    assert cp.root == expected.root()
    signing_key.public_key().verify(
        crypto.b64decode(latest.signature), SIGNATURE_CONTEXT + latest.body
    )
    stored, problems = await load_stored_checkpoints(redis_client, shard=SHARD)
    assert problems == []
    assert [s.checkpoint.tree_size for s in stored] == [10, 20, 25]
    assert [s.checkpoint.prev for s in stored[1:]] == [s.signed.digest() for s in stored[:-1]]
    assert await checkpointer.checkpoint_now() is None, "nothing new, nothing signed"


async def test_extends_incrementally_from_the_stored_frontier(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer
) -> None:
    await append_many(redis_client, 7)
    await checkpointer.checkpoint_now()
    honest = [
        leaf_hash(fields["entry"])
        for _, fields in await read_stream(redis_client, keys.audit_log(SHARD))
    ]
    # Rewrite the already-covered entries: an incremental checkpointer does not reread them,
    # so the next checkpoint still extends the signed tree (and verify flags the rewrite).
    entries = await read_stream(redis_client, keys.audit_log(SHARD))
    await rewrite_stream(
        redis_client,
        keys.audit_log(SHARD),
        [(sid, {"entry": b"rewritten"}) for sid, _ in entries],
    )
    await append_many(redis_client, 5, start=7)
    latest = await checkpointer.checkpoint_now()
    assert latest is not None
    added = await read_stream(redis_client, keys.audit_log(SHARD))
    honest += [leaf_hash(fields["entry"]) for _, fields in added[7:]]
    assert latest.checkpoint.root == MerkleTree(honest).root()


async def test_refuses_to_sign_when_entries_were_deleted(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer
) -> None:
    ids = await append_many(redis_client, 12)
    await checkpointer.checkpoint_now()
    await redis_client.xdel(keys.audit_log(SHARD), ids[3])
    await append_many(redis_client, 3, start=12)
    with pytest.raises(AuditIntegrityError, match="deleted from audit:messages:"):
        await checkpointer.checkpoint_now()
    latest = await latest_checkpoint(redis_client, shard=SHARD)
    assert latest is not None and latest.checkpoint.tree_size == 12


async def test_refuses_to_extend_a_tampered_head(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer
) -> None:
    await append_many(redis_client, 12)
    await checkpointer.checkpoint_now()
    checkpoints = await read_stream(redis_client, keys.audit_checkpoints(SHARD))
    sid, fields = checkpoints[-1]
    forged_frontier = {**fields, "frontier": b"\x00" * len(fields["frontier"])}
    await rewrite_stream(
        redis_client, keys.audit_checkpoints(SHARD), [*checkpoints[:-1], (sid, forged_frontier)]
    )
    await append_many(redis_client, 2, start=12)
    with pytest.raises(AuditIntegrityError, match="frontier of checkpoint #1"):
        await checkpointer.checkpoint_now()


async def test_refuses_a_head_signed_by_an_unpublished_key(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer
) -> None:
    rogue = AuditCheckpointer(
        redis_client, crypto.generate_private_key(), every_n=5, every_s=60, gateway_id="rogue"
    )
    await append_many(redis_client, 3)
    await rogue.checkpoint_now()
    await append_many(redis_client, 3, start=3)
    with pytest.raises(AuditIntegrityError, match="not published"):
        await checkpointer.checkpoint_now()


async def test_background_task_checkpoints_every_n_entries(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer
) -> None:
    await checkpointer.start()
    try:
        await append_many(redis_client, 10)
        deadline = time.monotonic() + 10
        latest = None
        while time.monotonic() < deadline:
            latest = await latest_checkpoint(redis_client, shard=SHARD)
            if latest is not None and latest.checkpoint.tree_size == 10:
                break
            await asyncio.sleep(0.01)
        assert latest is not None and latest.checkpoint.tree_size == 10
        await append_many(redis_client, 3, start=10)
    finally:
        await checkpointer.stop()
    latest = await latest_checkpoint(redis_client, shard=SHARD)
    assert latest is not None and latest.checkpoint.tree_size == 13, "stop() covers the rest"


async def test_background_task_checkpoints_after_every_s(
    redis_client: aioredis.Redis, signing_key: Ed25519PrivateKey
) -> None:
    timed = AuditCheckpointer(
        redis_client, signing_key, every_n=1000, every_s=0.05, gateway_id="gw-timed"
    )
    await timed.start()
    try:
        await append_many(redis_client, 3)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            latest = await latest_checkpoint(redis_client, shard=SHARD)
            if latest is not None and latest.checkpoint.tree_size == 3:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("no checkpoint after every_s")
    finally:
        await timed.stop()


async def test_concurrent_appenders_and_checkpointers_still_verify(
    redis_url: str, redis_client: aioredis.Redis
) -> None:
    keys_ = [crypto.generate_private_key() for _ in range(3)]
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(7)]
    checkpointers = [
        AuditCheckpointer(
            clients[i], key, every_n=20, every_s=0.02, gateway_id=f"gw-{i}", max_batch=15
        )
        for i, key in enumerate(keys_)
    ]
    try:
        for c in checkpointers:
            await c.start()

        async def appender(client: aioredis.Redis, offset: int) -> None:
            for start in range(offset, offset + 150, 10):
                await append_many(client, 10, start=start)
                await asyncio.sleep(0)

        await asyncio.gather(*(appender(clients[3 + i], i * 1000) for i in range(4)))
        for c in checkpointers:
            await c.stop()
        # Then each gateway signs on top of whatever head the others left.
        for position, c in enumerate(checkpointers):
            await append_many(clients[3], 5, start=9000 + 10 * position)
            assert await c.checkpoint_now() is not None
    finally:
        for c in checkpointers:
            await c.stop()
        for client in clients:
            await client.aclose()
    trusted: dict[str, Ed25519PublicKey] = {crypto.key_id(k): k.public_key() for k in keys_}
    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    assert report.ok, report.lines()
    assert report.entries == report.tree_size == 615
    stored, _ = await load_stored_checkpoints(redis_client, shard=SHARD)
    assert [s.checkpoint.seq for s in stored] == list(range(len(stored)))
    assert {s.checkpoint.key_id for s in stored} == set(trusted)


async def test_the_blocking_read_follows_the_gateway_and_never_exceeds_250_ms(
    redis_client: aioredis.Redis,
) -> None:
    key = crypto.generate_private_key()
    short = AuditCheckpointer(redis_client, key, gateway_id="gw-short", block_ms=20)
    long = AuditCheckpointer(redis_client, key, gateway_id="gw-long", block_ms=5000)
    assert (short.block_ms, long.block_ms) == (20, 250)
    with pytest.raises(ValueError, match="block_ms must be positive"):
        AuditCheckpointer(redis_client, key, gateway_id="gw-zero", block_ms=0)
    await short.start()  # a short read still stops on request and checkpoints nothing new
    await short.stop()
    assert short.task is None
