"""Tampering with the log in Redis is detected, and the first bad entry is named."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mas import crypto, keys
from mas_gateway.audit import AuditCheckpointer, AuditIntegrityError, verify_log
from mas_gateway.audit.checkpoint import latest_checkpoint
from mas_gateway.audit.merkle import leaf_hash
from mas_gateway.audit.streams import StreamEntry

from .helpers import SHARD, append_many, entry_bytes_for, read_stream, rewrite_stream

Trusted = dict[str, Ed25519PublicKey]


async def signed_log(client: aioredis.Redis, checkpointer: AuditCheckpointer) -> list[StreamEntry]:
    """30 entries under checkpoints at 10, 20 and 30."""
    await append_many(client, 30)
    await checkpointer.checkpoint_now()
    return await read_stream(client, keys.audit_log(SHARD))


async def test_an_untouched_log_verifies(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    await signed_log(redis_client, checkpointer)
    await append_many(redis_client, 4, start=30)
    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    assert report.ok, report.lines()
    assert (report.entries, report.checkpoints, report.tree_size) == (34, 3, 30)
    assert any("4 newest entries are not covered" in n for n in report.notes)
    assert report.lines()[0].startswith(f"OK: audit log of shard {SHARD} in Redis: 34 entries")


async def test_modified_entry_is_named(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    sid, fields = entries[13]
    changed = json.loads(fields["entry"])
    changed["decision"] = "delivered" if changed["decision"] != "delivered" else "denied"
    entries[13] = (sid, {"entry": json.dumps(changed).encode()})
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries)

    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    first = report.first_bad_entry
    assert not report.ok and first is not None
    assert (first.index, first.stream_id, first.message_id) == (13, sid, "msg-00013")
    assert first.message.startswith("modified")
    assert "checkpoint #1" in first.message
    assert report.lines()[1].startswith(
        f"first bad entry: shard {SHARD}: entry #13, stream id {sid}"
    )


async def test_deleted_entry_is_named(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries[:13] + entries[14:])

    first = (await verify_log(redis_client, shard=SHARD, trusted=trusted)).first_bad_entry
    assert first is not None
    assert (first.index, first.stream_id) == (13, entries[14][0])
    assert first.message.startswith("deleted: signed entry #13 is gone (1 missing)")


async def test_deletion_with_xdel_also_trips_the_stream_counters(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    await redis_client.xdel(keys.audit_log(SHARD), entries[4][0])

    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    first = report.first_bad_entry
    assert first is not None and first.index == 4 and first.message.startswith("deleted")
    counters = [f.message for f in report.findings if f.kind == "counters"]
    assert any(f"highest deleted stream id {entries[4][0]}" in m for m in counters)
    assert any("30 entries added but holds 29" in m for m in counters)


async def test_inserted_entry_is_named(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    forged = (None, {"entry": entry_bytes_for(999)})
    await rewrite_stream(
        redis_client, keys.audit_log(SHARD), [*entries[:13], forged, *entries[13:]]
    )

    first = (await verify_log(redis_client, shard=SHARD, trusted=trusted)).first_bad_entry
    assert first is not None
    assert (first.index, first.message_id) == (13, "msg-00999")
    assert first.message.startswith("inserted: not in the signed log")


async def test_reordered_entries_are_named(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    swapped = [*entries[:13], (entries[13][0], entries[14][1]), (entries[14][0], entries[13][1])]
    await rewrite_stream(redis_client, keys.audit_log(SHARD), swapped + entries[15:])

    first = (await verify_log(redis_client, shard=SHARD, trusted=trusted)).first_bad_entry
    assert first is not None
    assert (first.index, first.message_id) == (13, "msg-00014")
    assert first.message.startswith("reordered: this is signed entry #14")


async def test_cut_tail_is_named(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries[:25])

    first = (await verify_log(redis_client, shard=SHARD, trusted=trusted)).first_bad_entry
    assert first is not None and first.index == 25
    assert "the tail was cut off" in first.message


async def test_cut_tail_with_new_entries_appended_after_it_is_named(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries[:25])
    await append_many(redis_client, 8, start=100)
    await checkpointer.checkpoint_now()  # extends the signed frontier: still honest

    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    first = report.first_bad_entry
    assert first is not None and first.index == 25
    assert "checkpoint #2" in first.message


async def test_cut_tail_and_reset_head_is_caught_by_a_witness(
    redis_client: aioredis.Redis,
    checkpointer: AuditCheckpointer,
    trusted: Trusted,
    signing_key: Ed25519PrivateKey,
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    witness = await latest_checkpoint(redis_client, shard=SHARD)
    assert witness is not None and witness.checkpoint.tree_size == 30
    # The attacker cuts entries 25.. and drops the checkpoint covering them; the gateway
    # then carries on from the older head and signs new checkpoints over new traffic.
    checkpoints = await read_stream(redis_client, keys.audit_checkpoints(SHARD))
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries[:25])
    await rewrite_stream(redis_client, keys.audit_checkpoints(SHARD), checkpoints[:2])
    await append_many(redis_client, 8, start=100)
    with pytest.raises(AuditIntegrityError, match="went back from #2 to #1"):
        await checkpointer.checkpoint_now()  # a running gateway notices the rollback
    restarted = AuditCheckpointer(
        redis_client, signing_key, every_n=10, every_s=60, gateway_id="gw", max_batch=10
    )
    await restarted.checkpoint_now()  # a restarted one cannot

    alone = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    assert alone.ok, "a consistently re-signed log needs an outside witness"

    report = await verify_log(redis_client, shard=SHARD, trusted=trusted, witness=witness.signed)
    assert not report.ok
    assert any("differs from the witnessed checkpoint #2" in f.message for f in report.findings)
    first = report.first_bad_entry
    assert first is not None and first.index == 20
    assert "some entry in #20..#29" in first.message


async def test_altered_leaf_hashes_cannot_hide_a_modification(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    entries[13] = (entries[13][0], {"entry": entry_bytes_for(13, denied=True)})
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries)
    # A thorough attacker also rewrites the stored leaf hashes to match.
    checkpoints = await read_stream(redis_client, keys.audit_checkpoints(SHARD))
    sid, fields = checkpoints[1]
    leaves = bytearray(fields["leaves"])
    leaves[3 * 32 : 4 * 32] = leaf_hash(entries[13][1]["entry"])
    checkpoints[1] = (sid, {**fields, "leaves": bytes(leaves)})
    await rewrite_stream(redis_client, keys.audit_checkpoints(SHARD), checkpoints)

    first = (await verify_log(redis_client, shard=SHARD, trusted=trusted)).first_bad_entry
    assert first is not None and first.index == 10
    assert "some entry in #10..#19" in first.message
    assert "cannot be pinned" in first.message


@pytest.mark.parametrize("field", ["checkpoint", "signature"])
async def test_forged_checkpoint_signature_is_detected(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted, field: str
) -> None:
    await signed_log(redis_client, checkpointer)
    checkpoints = await read_stream(redis_client, keys.audit_checkpoints(SHARD))
    sid, fields = checkpoints[1]
    if field == "checkpoint":
        body = json.loads(fields["checkpoint"])
        body["tree_size"] = 19
        forged = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    else:
        forged = crypto.sign(crypto.generate_private_key(), fields["checkpoint"]).encode()
    checkpoints[1] = (sid, {**fields, field: forged})
    await rewrite_stream(redis_client, keys.audit_checkpoints(SHARD), checkpoints)

    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    assert any(
        f.kind == "checkpoint" and "checkpoint #1" in f.message and "does not verify" in f.message
        for f in report.findings
    ), report.lines()


async def test_a_checkpoint_signature_that_is_not_text_is_a_finding_not_a_crash(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    await signed_log(redis_client, checkpointer)
    checkpoints = await read_stream(redis_client, keys.audit_checkpoints(SHARD))
    sid, fields = checkpoints[1]
    checkpoints[1] = (sid, {**fields, "signature": b"\xff\xfe" + fields["signature"][2:]})
    await rewrite_stream(redis_client, keys.audit_checkpoints(SHARD), checkpoints)

    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    assert not report.ok
    assert any(f.kind == "checkpoint" and "checkpoint #1" in f.message for f in report.findings), (
        report.lines()
    )


async def test_a_log_re_signed_with_an_attacker_key_fails_against_pinned_keys(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    entries = await signed_log(redis_client, checkpointer)
    entries[5] = (entries[5][0], {"entry": entry_bytes_for(5, denied=True)})
    await rewrite_stream(redis_client, keys.audit_log(SHARD), entries)
    await redis_client.delete(keys.audit_checkpoints(SHARD))
    attacker = AuditCheckpointer(
        redis_client, crypto.generate_private_key(), every_n=10, every_s=60, gateway_id="x"
    )
    await attacker.start()
    await attacker.stop()
    # The attacker published their key in Redis: trusting Redis accepts the rewrite...
    assert (await verify_log(redis_client, shard=SHARD)).ok
    # ...an auditor who pinned the gateway key does not.
    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    assert not report.ok
    assert any("is not trusted" in f.message for f in report.findings)


async def test_removing_every_checkpoint_is_caught_once_entries_age(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    seconds, _ = await redis_client.time()
    two_hours_ago = (seconds - 7200) * 1000
    for i in range(12):
        await redis_client.xadd(
            keys.audit_log(SHARD), {"entry": entry_bytes_for(i)}, id=f"{two_hours_ago}-{i + 1}"
        )
    await checkpointer.checkpoint_now()
    assert (await verify_log(redis_client, shard=SHARD, trusted=trusted)).ok

    await redis_client.delete(keys.audit_checkpoints(SHARD))
    report = await verify_log(redis_client, shard=SHARD, trusted=trusted)
    first = report.first_bad_entry
    assert first is not None and (first.index, first.stream_id) == (0, f"{two_hours_ago}-1")
    assert "not covered by any checkpoint 120 min after it was appended" in first.message
    assert (
        await verify_log(redis_client, shard=SHARD, trusted=trusted, max_uncovered_age_s=None)
    ).ok
