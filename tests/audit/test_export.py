"""Exports verify offline; every kind of tampering with one is detected and named."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mas import crypto, keys
from mas_gateway.audit import AuditCheckpointer, Checkpoint, sign_checkpoint
from mas_gateway.audit.export import Export, build_export
from mas_gateway.audit.exportfile import parse_export, write_csv, write_jsonl
from mas_gateway.audit.log import LogEntry
from mas_gateway.audit.merkle import CompactRange, MerkleTree, leaf_hash
from mas_gateway.audit.offline import verify_export
from mas_gateway.audit.report import Witness

from .helpers import SHARD, append_many, entry_bytes_for, read_stream, wait_for_redis_clock_past

Trusted = dict[str, Ed25519PublicKey]


def render(export: Export, fmt: str) -> str:
    out = io.StringIO()
    (write_jsonl if fmt == "jsonl" else write_csv)(export, out)
    return out.getvalue()


def rows_of(text: str, fmt: str) -> tuple[str, list[str]]:
    """Split an export into its header part and one text chunk per entry."""
    lines = text.splitlines(keepends=True)
    if fmt == "jsonl":
        return lines[0], lines[1:]
    return lines[0] + lines[1], lines[2:]


def edit_entry(row: str, fmt: str, change: Callable[[dict[str, object]], None]) -> str:
    """Change the entry JSON inside one exported row, keeping its stored leaf hash."""
    if fmt == "jsonl":
        obj = json.loads(row)
        entry = json.loads(obj["entry"])
        change(entry)
        obj["entry"] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        return json.dumps(obj) + "\n"
    fields = next(csv.reader([row]))
    entry = json.loads(fields[-2])
    change(entry)
    fields[-2] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()


@pytest.fixture
async def exported(redis_client: aioredis.Redis, checkpointer: AuditCheckpointer) -> Export:
    await append_many(redis_client, 30)
    await checkpointer.checkpoint_now()
    return await build_export(redis_client, shard=SHARD)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_an_untouched_export_verifies_offline(
    exported: Export, trusted: Trusted, fmt: str
) -> None:
    report = verify_export(parse_export(render(exported, fmt)), trusted)
    assert report.ok, report.lines()
    assert (report.entries, report.checkpoints, report.tree_size) == (30, 3, 30)


async def test_csv_columns_are_readable(exported: Export) -> None:
    text = render(exported, "csv")
    rows = list(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert rows[7]["message_id"] == "msg-00007"
    assert (rows[7]["sender"], rows[7]["decision"], rows[7]["code"]) == (
        "doctor",
        "delivered",
        "200",
    )
    assert json.loads(rows[7]["entry"])["message_id"] == "msg-00007"


async def test_an_export_of_a_later_period_carries_the_earlier_tree(
    redis_client: aioredis.Redis, checkpointer: AuditCheckpointer, trusted: Trusted
) -> None:
    ids = await append_many(redis_client, 12)
    since = await wait_for_redis_clock_past(redis_client, ids[-1])
    await append_many(redis_client, 18, start=12)
    await checkpointer.checkpoint_now()
    export = await build_export(redis_client, shard=SHARD, since=since)
    assert export.start == 12 and len(export.entries) == 18
    report = verify_export(parse_export(render(export, "jsonl")), trusted)
    assert report.ok, report.lines()
    assert any("entries before #12 are not in this export" in n for n in report.notes)


def tamper(text: str, fmt: str, how: str) -> str:
    header, rows = rows_of(text, fmt)
    if how == "modify":
        rows[13] = edit_entry(rows[13], fmt, lambda e: e.update(decision="denied", code=403))
    elif how == "delete":
        del rows[13]
    elif how == "insert":
        forged = edit_entry(rows[13], fmt, lambda e: e.update(message_id="msg-forged"))
        rows.insert(13, forged)
    elif how == "reorder":
        rows[13], rows[14] = rows[14], rows[13]
    elif how == "truncate":
        rows = rows[:25]
    return header + "".join(rows)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(
    ("how", "index", "start"),
    [
        ("modify", 13, "modified"),
        ("delete", 13, "deleted: signed entry #13 is gone"),
        ("insert", 13, "inserted"),
        ("reorder", 13, "reordered: this is signed entry #14"),
        ("truncate", 25, "missing"),
    ],
)
async def test_tampered_export_names_the_first_bad_entry(
    exported: Export, trusted: Trusted, fmt: str, how: str, index: int, start: str
) -> None:
    report = verify_export(parse_export(tamper(render(exported, fmt), fmt, how)), trusted)
    first = report.first_bad_entry
    assert not report.ok and first is not None, report.lines()
    assert first.index == index
    assert first.message.startswith(start), first.message


def cut_and_reset_head(text: str, fmt: str) -> str:
    """Cut entries 20.. and drop the checkpoint covering them: a consistent shorter export."""
    header_text, rows = rows_of(text, fmt)
    first_line, rest = header_text.split("\n", 1) if fmt == "csv" else (header_text, "")
    prefix = "# " if fmt == "csv" else ""
    header = json.loads(first_line.removeprefix("# "))
    header["checkpoints"] = header["checkpoints"][:2]
    header["consistency"] = header["consistency"][:1]
    header["tree_size"] = header["count"] = 20
    new_header = prefix + json.dumps(header) + "\n" + rest
    return new_header + "".join(rows[:20])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_cut_tail_with_reset_head_needs_and_meets_a_witness(
    exported: Export, trusted: Trusted, fmt: str
) -> None:
    cut = parse_export(cut_and_reset_head(render(exported, fmt), fmt))
    assert verify_export(cut, trusted).ok, "a consistent shorter export needs a witness"

    witness = Witness(exported.checkpoints[-1])
    report = verify_export(cut, trusted, witness=witness)
    first = report.first_bad_entry
    assert first is not None and first.index == 20
    assert first.message.startswith("missing")
    assert any("later checkpoints were removed" in f.message for f in report.findings)


async def test_forged_checkpoint_signature_in_an_export_is_detected(
    exported: Export, trusted: Trusted
) -> None:
    header, rows = rows_of(render(exported, "jsonl"), "jsonl")
    obj = json.loads(header)
    body = json.loads(obj["checkpoints"][1]["checkpoint"])
    body["root"] = "00" * 32
    obj["checkpoints"][1]["checkpoint"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    report = verify_export(parse_export(json.dumps(obj) + "\n" + "".join(rows)), trusted)
    assert any(
        "checkpoint #1" in f.message and "does not verify" in f.message for f in report.findings
    )
    assert not verify_export(exported, {}).ok, "no trusted key, no trust"


def lying_export(key: Ed25519PrivateKey) -> Export:
    """A log operator with the key signs #0 over honest history, then #1 over a rewritten one.

    The export starts after the rewritten entry and carries the forked tree's compact
    range, so every exported entry matches checkpoint #1: only the consistency proof
    between #0 and #1 can reveal the fork.
    """
    honest = [entry_bytes_for(i) for i in range(20)]
    forked = [*honest[:3], entry_bytes_for(3, denied=True), *honest[4:]]
    honest_tree = MerkleTree([leaf_hash(e) for e in honest])
    forked_tree = MerkleTree([leaf_hash(e) for e in forked])
    kid = crypto.key_id(key)
    first = sign_checkpoint(
        Checkpoint(0, 10, honest_tree.root(10), None, "1-10", 1.0, "gw", kid), key
    )
    second = sign_checkpoint(
        Checkpoint(1, 20, forked_tree.root(20), first.digest(), "1-20", 2.0, "gw", kid), key
    )
    left = CompactRange()
    left.extend(forked_tree.leaf(i) for i in range(12))
    return Export(
        start=12,
        left=left,
        checkpoints=[first, second],
        consistency=[forked_tree.consistency_proof(10, 20)],
        entries=[LogEntry(i, f"1-{i + 1}", forked[i]) for i in range(12, 20)],
        leaves=[forked_tree.leaf(i) for i in range(12, 20)],
    )


async def test_a_lying_log_cannot_pass_a_forged_consistency_proof(
    signing_key: Ed25519PrivateKey, trusted: Trusted
) -> None:
    lying = lying_export(signing_key)
    report = verify_export(lying, trusted)
    assert [f.message for f in report.findings] == [
        "checkpoint #1 is not consistent with checkpoint #0: the signed history was rewritten"
    ]
    honest_tree = MerkleTree([leaf_hash(entry_bytes_for(i)) for i in range(20)])
    lying.consistency = [honest_tree.consistency_proof(10, 20)]
    assert not verify_export(lying, trusted).ok
    lying.consistency = []
    assert not verify_export(lying, trusted).ok


async def test_the_export_matches_the_redis_stream(
    redis_client: aioredis.Redis, exported: Export
) -> None:
    stream = await read_stream(redis_client, keys.audit_log(SHARD))
    assert [e.raw for e in exported.entries] == [f["entry"] for _, f in stream]
    assert [e.stream_id for e in exported.entries] == [sid for sid, _ in stream]
