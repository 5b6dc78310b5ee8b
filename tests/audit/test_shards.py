"""Every ingress shard's audit log is its own Merkle log: tampering with one is named."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas import keys
from mas_gateway.audit import AuditCheckpointer
from mas_gateway.audit.entry import append_entry
from mas_gateway.audit.verifier import verify_shards
from mas_gateway.cli import main

from .helpers import entry_bytes_for, read_stream, rewrite_stream

SENDERS = ("doctor", "patient", "specialist")


async def _log_from_every_sender(client: aioredis.Redis) -> None:
    for i in range(12):
        sender = SENDERS[i % len(SENDERS)]
        entry = entry_bytes_for(i, sender=sender)
        await append_entry(client, entry, shard=keys.audit_shard(sender))


def test_the_senders_are_in_different_shards() -> None:
    assert len({keys.ingress_shard(s) for s in SENDERS}) == len(SENDERS)


async def test_each_sender_s_decisions_are_in_its_shard_and_every_shard_verifies(
    redis_client: aioredis.Redis,
    checkpointer: AuditCheckpointer,
    trusted: dict[str, Ed25519PublicKey],
    redis_url: str,
) -> None:
    await _log_from_every_sender(redis_client)
    await checkpointer.checkpoint_now()
    for sender in SENDERS:
        logged = await read_stream(redis_client, keys.audit_log(keys.ingress_shard(sender)))
        assert {json.loads(f["entry"])["sender"] for _, f in logged} == {sender}
    reports = await verify_shards(redis_client, trusted=trusted)
    assert all(r.ok for r in reports), [r.lines() for r in reports if not r.ok]
    assert sum(r.entries for r in reports) == 12
    assert await asyncio.to_thread(main, ["audit", "verify", "--redis-url", redis_url]) == 0


@pytest.mark.parametrize("victim", SENDERS)
async def test_one_rewritten_shard_fails_naming_it_while_the_others_verify(
    redis_client: aioredis.Redis,
    checkpointer: AuditCheckpointer,
    trusted: dict[str, Ed25519PublicKey],
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    victim: str,
) -> None:
    await _log_from_every_sender(redis_client)
    await checkpointer.checkpoint_now()
    shard = keys.ingress_shard(victim)
    entries = await read_stream(redis_client, keys.audit_log(shard))
    sid, fields = entries[2]
    changed = json.loads(fields["entry"])
    changed["decision"] = "denied" if changed["decision"] != "denied" else "delivered"
    entries[2] = (sid, {"entry": json.dumps(changed).encode()})
    await rewrite_stream(redis_client, keys.audit_log(shard), entries)

    reports = await verify_shards(redis_client, trusted=trusted)
    failed = [r for r in reports if not r.ok]
    assert [r.shard for r in failed] == [shard]
    first = failed[0].first_bad_entry
    assert first is not None and (first.shard, first.index) == (shard, 2)
    assert first.describe().startswith(f"shard {shard}: entry #2")
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["audit", "verify", "--redis-url", redis_url])
    err = capsys.readouterr().err
    assert code == 1
    assert f"first bad entry: shard {shard}: entry #2" in err
    assert f"audit log shards {shard} did not verify" in err


async def test_two_swapped_shards_fail_though_each_log_matches_its_checkpoints(
    redis_client: aioredis.Redis,
    checkpointer: AuditCheckpointer,
    trusted: dict[str, Ed25519PublicKey],
) -> None:
    """Whoever can write Redis must not pass one shard's decisions off as another's."""
    await _log_from_every_sender(redis_client)
    await checkpointer.checkpoint_now()
    a, b = (keys.ingress_shard(s) for s in SENDERS[:2])
    for key in (keys.audit_log, keys.audit_checkpoints):
        await redis_client.rename(key(a), "swap")
        await redis_client.rename(key(b), key(a))
        await redis_client.rename("swap", key(b))

    reports = {r.shard: r for r in await verify_shards(redis_client, trusted=trusted)}
    assert sorted(s for s, r in reports.items() if not r.ok) == sorted([a, b])
    lines = "\n".join(reports[a].lines())
    assert f"signed for the log of shard {b}, not shard {a}" in lines
