"""``mas audit``: exit codes, output, and files that verify offline."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mas import crypto, keys
from mas_gateway.audit import AuditCheckpointer, build_audit_entry
from mas_gateway.audit.entry import append_entry
from mas_gateway.cli import main

from .helpers import (
    GATEWAY_ID,
    SHARD,
    dlp_context,
    make_context,
    read_stream,
    rewrite_stream,
    wait_for_redis_clock_past,
)

T = TypeVar("T")


def run(url: str, work: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    async def go() -> T:
        client = aioredis.Redis.from_url(url)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def varied_entry(i: int) -> bytes:
    if i % 3 == 0:
        ctx = make_context(i, sender="patient", target="specialist", denied=True)
    elif i % 5 == 0:
        ctx = dlp_context()
        assert ctx.envelope is not None
        ctx.envelope = ctx.envelope.model_copy(update={"message_id": f"msg-{i:05d}"})
    else:
        ctx = make_context(i)
    return build_audit_entry(ctx, gateway_id=GATEWAY_ID, key_id="k")


def populate(url: str, key: Ed25519PrivateKey, start: int, count: int) -> list[str]:
    """Append `count` varied entries and checkpoint them; return their stream ids."""

    async def work(client: aioredis.Redis) -> list[str]:
        ids = [
            await append_entry(client, varied_entry(i), shard=SHARD)
            for i in range(start, start + count)
        ]
        checkpointer = AuditCheckpointer(
            client, key, every_n=10, every_s=60, gateway_id=GATEWAY_ID, max_batch=10
        )
        await checkpointer.start()
        await checkpointer.stop()
        return ids

    return run(url, work)


@pytest.fixture
def pubkey_file(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "gateway.pub"
    path.write_text(crypto.public_key_to_b64(signing_key) + "\n")
    return path


def mas(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_ok_and_pinned(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    pubkey_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    populate(redis_url, signing_key, 0, 25)
    code, out, _ = mas(capsys, "verify", "--redis-url", redis_url)
    assert code == 0 and out.startswith(f"OK: audit log of shard {SHARD} in Redis: 25 entries")
    b64 = crypto.public_key_to_b64(signing_key)
    assert mas(capsys, "verify", "--redis-url", redis_url, "--pubkey", b64)[0] == 0
    assert mas(capsys, "verify", "--redis-url", redis_url, "--pubkey", str(pubkey_file))[0] == 0
    other = crypto.public_key_to_b64(crypto.generate_private_key())
    code, _, err = mas(capsys, "verify", "--redis-url", redis_url, "--pubkey", other)
    assert code == 1 and "is not trusted" in err
    code, out, _ = mas(capsys, "verify", "--redis-url", redis_url, "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_verify_names_the_first_bad_entry(
    redis_url: str, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = populate(redis_url, signing_key, 0, 25)

    async def delete_one(client: aioredis.Redis) -> None:
        entries = await read_stream(client, keys.audit_log(SHARD))
        await rewrite_stream(client, keys.audit_log(SHARD), entries[:13] + entries[14:])

    run(redis_url, delete_one)
    code, _, err = mas(capsys, "verify", "--redis-url", redis_url)
    assert code == 1
    assert f"first bad entry: shard {SHARD}: entry #13, stream id {ids[14]}" in err
    assert "deleted: signed entry #13 is gone" in err


def test_usage_and_configuration_errors_exit_2(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "proof.json"
    proof.write_text("{}")
    code, _, err = mas(capsys, "verify", "--file", str(proof))
    assert code == 2 and "--file needs --pubkey" in err
    code, _, err = mas(capsys, "verify", "--redis-url", "redis://127.0.0.1:1/0")
    assert code == 2 and "cannot reach Redis at redis://127.0.0.1:1/0" in err
    code, _, err = mas(capsys, "query", "--redis-url", redis_url, "--since", "last tuesday")
    assert code == 2 and "--since 'last tuesday' is not a time" in err
    code, _, err = mas(capsys, "verify", "--pubkey", "not-a-key", "--redis-url", redis_url)
    assert code == 2 and "neither a file nor a base64 Ed25519 public key" in err
    code, _, err = mas(capsys, "verify", "--redis-url", "redis://:hunter2@127.0.0.1:1/0")
    assert code == 2 and "hunter2" not in err


def test_prove_then_verify_offline(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    pubkey_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    populate(redis_url, signing_key, 0, 25)
    proof = tmp_path / "proof.json"
    assert mas(capsys, "prove", "msg-00007", "--redis-url", redis_url, "--out", str(proof))[0] == 0
    code, out, _ = mas(capsys, "verify", "--file", str(proof), "--pubkey", str(pubkey_file))
    assert code == 0 and "1 entry of message msg-00007 is in the log" in out

    doc = json.loads(proof.read_text())
    doc["entries"][0]["entry"] = doc["entries"][0]["entry"].replace("doctor", "nurse")
    proof.write_text(json.dumps(doc))
    code, _, err = mas(capsys, "verify", "--file", str(proof), "--pubkey", str(pubkey_file))
    assert code == 1 and "entry #7" in err and "not included" in err

    code, _, err = mas(capsys, "prove", "msg-99999", "--redis-url", redis_url)
    assert code == 1 and "no audit entry records message 'msg-99999'" in err


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_verify_offline_and_detect_tampering(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    pubkey_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    populate(redis_url, signing_key, 0, 25)
    out_file = tmp_path / f"audit.{fmt}"
    code, _, err = mas(
        capsys,
        "export",
        "--shard",
        str(SHARD),
        "--format",
        fmt,
        "--out",
        str(out_file),
        "--redis-url",
        redis_url,
    )
    assert code == 0 and "exported entries #0..#24 under 3 checkpoints" in err
    code, out, _ = mas(capsys, "verify", "--file", str(out_file), "--pubkey", str(pubkey_file))
    assert code == 0 and "25 entries" in out

    lines = out_file.read_text().splitlines(keepends=True)
    skip = 1 if fmt == "jsonl" else 2
    del lines[skip + 9]
    out_file.write_text("".join(lines))
    code, _, err = mas(capsys, "verify", "--file", str(out_file), "--pubkey", str(pubkey_file))
    assert code == 1 and "first bad entry: entry #9" in err and "deleted" in err


def test_export_to_stdout(
    redis_url: str, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(redis_url, signing_key, 0, 5)
    code, out, _ = mas(capsys, "export", "--shard", str(SHARD), "--redis-url", redis_url)
    header, *rows = out.splitlines()
    assert code == 0 and json.loads(header)["kind"] == "mas.audit.export" and len(rows) == 5


def test_query_filters_and_formats(
    redis_url: str, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(redis_url, signing_key, 1, 30)
    code, out, _ = mas(capsys, "query", "--redis-url", redis_url, "--decision", "denied", "--json")
    denied = json.loads(out)
    assert code == 0 and [r["message_id"] for r in denied] == [
        f"msg-{i:05d}" for i in range(3, 31, 3)
    ]
    assert all(r["sender"] == "patient" and r["code"] == 403 for r in denied)

    code, out, _ = mas(capsys, "query", "--redis-url", redis_url, "--entity", "us_ssn", "--json")
    found = json.loads(out)
    assert [r["message_id"] for r in found] == ["msg-00005", "msg-00010", "msg-00020", "msg-00025"]
    assert all("123-45-6789" not in json.dumps(r) for r in found)

    code, out, err = mas(
        capsys,
        "query",
        "--redis-url",
        redis_url,
        "--sender",
        "doctor",
        "--target",
        "patient",
        "--limit",
        "3",
    )
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["TIME", "MESSAGE", "SENDER", "TARGET"]
    assert [line.split()[1] for line in lines[1:]] == ["msg-00001", "msg-00002", "msg-00004"]
    assert "3 entries" in err

    code, out, _ = mas(capsys, "query", "--redis-url", redis_url, "--until", "2000-01-01", "--json")
    assert json.loads(out) == []
    code, out, _ = mas(capsys, "query", "--redis-url", redis_url, "--since", "1h", "--json")
    assert len(json.loads(out)) == 30


def test_archive_then_verify_prove_export_across_the_boundary(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    pubkey_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = populate(redis_url, signing_key, 0, 25)
    before = run(redis_url, lambda c: wait_for_redis_clock_past(c, ids[-1]))
    populate(redis_url, signing_key, 25, 12)
    archive_dir = tmp_path / "archive"
    code, out, _ = mas(
        capsys,
        "archive",
        "--before",
        str(before),
        "--dir",
        str(archive_dir),
        "--redis-url",
        redis_url,
    )
    assert code == 0 and "archived entries #0..#24 (25)" in out
    manifest = json.loads((archive_dir / f"shard-{SHARD}" / "manifest.json").read_text())
    [segment] = manifest["segments"]
    assert (segment["first_index"], segment["count"], segment["last_id"]) == (0, 25, ids[-1])
    lines = gzip.decompress(
        (archive_dir / f"shard-{SHARD}" / segment["file"]).read_bytes()
    ).splitlines()
    assert len(lines) == 25 and json.loads(lines[7])["index"] == 7
    assert run(redis_url, lambda c: c.xlen(keys.audit_log(SHARD))) == 12

    code, out, _ = mas(capsys, "verify", "--redis-url", redis_url)
    assert code == 0 and "37 entries (25 archived)" in out
    proof = tmp_path / "proof.json"
    assert mas(capsys, "prove", "msg-00007", "--redis-url", redis_url, "--out", str(proof))[0] == 0
    assert mas(capsys, "verify", "--file", str(proof), "--pubkey", str(pubkey_file))[0] == 0
    export = tmp_path / "audit.jsonl"
    assert (
        mas(
            capsys, "export", "--shard", str(SHARD), "--out", str(export), "--redis-url", redis_url
        )[0]
        == 0
    )
    assert mas(capsys, "verify", "--file", str(export), "--pubkey", str(pubkey_file))[0] == 0
    code, out, _ = mas(capsys, "query", "--redis-url", redis_url, "--archive", "--json")
    assert len(json.loads(out)) == 37

    # Nothing more to archive before that date; a later date archives the rest that is
    # covered by a checkpoint, and leaves the newest, unchecked entries in Redis.
    run(redis_url, lambda c: append_entry(c, varied_entry(90), shard=SHARD))
    code, out, _ = mas(
        capsys,
        "archive",
        "--before",
        str(before),
        "--dir",
        str(archive_dir),
        "--redis-url",
        redis_url,
    )
    assert code == 0 and "nothing to archive" in out
    code, out, _ = mas(
        capsys,
        "archive",
        "--before",
        "2999-01-01",
        "--dir",
        str(archive_dir),
        "--redis-url",
        redis_url,
    )
    assert code == 0 and "archived entries #25..#36 (12)" in out
    assert run(redis_url, lambda c: c.xlen(keys.audit_log(SHARD))) == 1
    code, out, _ = mas(capsys, "verify", "--redis-url", redis_url)
    assert code == 0 and "38 entries (37 archived)" in out

    # A moved archive needs --archive-dir; a missing file is a configuration error.
    moved = tmp_path / "moved"
    archive_dir.rename(moved)
    code, _, err = mas(capsys, "verify", "--redis-url", redis_url)
    assert code == 2 and "pass --archive-dir" in err
    assert mas(capsys, "verify", "--redis-url", redis_url, "--archive-dir", str(moved))[0] == 0


def test_tampered_archive_is_detected(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    populate(redis_url, signing_key, 0, 20)
    archive_dir = tmp_path / "archive"
    assert (
        mas(
            capsys,
            "archive",
            "--before",
            "2999-01-01",
            "--dir",
            str(archive_dir),
            "--redis-url",
            redis_url,
        )[0]
        == 0
    )
    [segment] = json.loads((archive_dir / f"shard-{SHARD}" / "manifest.json").read_text())[
        "segments"
    ]
    path = archive_dir / f"shard-{SHARD}" / segment["file"]
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    record = json.loads(lines[4])
    record["entry"] = record["entry"].replace('"doctor"', '"mallory"')
    lines[4] = (json.dumps(record) + "\n").encode()
    path.write_bytes(gzip.compress(b"".join(lines)))

    code, _, err = mas(capsys, "verify", "--redis-url", redis_url)
    assert code == 1
    assert f"first bad entry: shard {SHARD}: entry #4" in err and "modified" in err
    assert f"archive segment {segment['file']} was modified" in err
    code, _, err = mas(
        capsys,
        "archive",
        "--before",
        "2999-01-01",
        "--dir",
        str(archive_dir),
        "--redis-url",
        redis_url,
    )
    assert code == 1 and "refusing to archive" in err


def test_witness_checkpoint_and_keys(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert mas(capsys, "checkpoint", "--shard", str(SHARD), "--redis-url", redis_url)[0] == 1
    ids = populate(redis_url, signing_key, 0, 20)
    witness = tmp_path / "head.json"
    assert (
        mas(
            capsys,
            "checkpoint",
            "--shard",
            str(SHARD),
            "--redis-url",
            redis_url,
            "--out",
            str(witness),
        )[0]
        == 0
    )
    assert json.loads(json.loads(witness.read_text())["checkpoint"])["tree_size"] == 20
    assert (
        mas(
            capsys,
            "verify",
            "--redis-url",
            redis_url,
            "--shard",
            str(SHARD),
            "--witness",
            str(witness),
        )[0]
        == 0
    )

    async def reset_head(client: aioredis.Redis) -> None:
        entries = await read_stream(client, keys.audit_log(SHARD))
        checkpoints = await read_stream(client, keys.audit_checkpoints(SHARD))
        await rewrite_stream(client, keys.audit_log(SHARD), entries[:15])
        await rewrite_stream(client, keys.audit_checkpoints(SHARD), checkpoints[:1])

    run(redis_url, reset_head)
    populate(redis_url, signing_key, 100, 10)
    assert mas(capsys, "verify", "--redis-url", redis_url)[0] == 0
    code, _, err = mas(
        capsys, "verify", "--redis-url", redis_url, "--shard", str(SHARD), "--witness", str(witness)
    )
    assert code == 1 and "the log's head was reset" in err
    assert f"first bad entry: shard {SHARD}: entry #10" in err
    assert ids

    code, out, _ = mas(capsys, "keys", "--redis-url", redis_url)
    assert code == 0
    assert out.split() == [crypto.key_id(signing_key), crypto.public_key_to_b64(signing_key)]


def test_a_large_verify_reports_progress_on_stderr(
    redis_url: str,
    signing_key: Ed25519PrivateKey,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(redis_url, signing_key, 0, 25)
    monkeypatch.setattr("mas_gateway.audit.verifier.PROGRESS_EVERY", 10)
    code, out, err = mas(capsys, "verify", "--redis-url", redis_url, "--json")
    assert code == 0 and json.loads(out)["ok"] is True  # stdout stays one document
    assert [line for line in err.splitlines() if "entries checked" in line] == [
        "... audit verify: 10 entries checked",
        "... audit verify: 20 entries checked",
    ]
