"""``mas audit``: verify, prove, query, export and archive the audit log.

Exit codes: 0 ok, 1 a check failed (tampering, a forged proof, a message not logged),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from mas import keys
from mas.errors import ConfigError

from ..decisions import DECISIONS
from .common import (
    DEFAULT_GATEWAY_KEY,
    DEMO_DATA_DIR,
    add_json_option,
    add_redis_option,
    pinned_keys,
    print_json,
    progress,
)

if TYPE_CHECKING:  # the audit modules, Redis and cryptography load in the handlers
    import redis.asyncio as aioredis
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ..audit.report import VerifyReport

__all__ = ["register"]

T = TypeVar("T")

WITNESS_NAME = "audit-witness.json"
"""The gateway's witness file name (`mas_gateway.settings.WITNESS_NAME`; a test checks)."""
MAX_UNCOVERED_AGE_S = 3600.0
"""`mas_gateway.audit.verifier.DEFAULT_MAX_UNCOVERED_AGE_S`, without importing the verifier."""


def register(subparsers: Any) -> None:
    """Add the ``audit`` command group."""
    audit = subparsers.add_parser("audit", help="verify, prove, query, export, archive the log")
    sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    verify = sub.add_parser(
        "verify",
        help="recompute the Merkle tree and check every signed checkpoint",
        description="Exit 0 when the log (or --file) verifies, 1 naming the first bad entry.",
    )
    verify.add_argument("--file", type=Path, help="an export or proof to check without Redis")
    _add_pubkey(verify)
    verify.add_argument(
        "--witness",
        type=Path,
        help="a checkpoint, proof or export kept elsewhere: the log must still contain it "
        f"(default: $MAS_AUDIT_WITNESS_PATH, else the gateway's {WITNESS_NAME} when present)",
    )
    verify.add_argument(
        "--max-uncovered-age",
        type=float,
        default=MAX_UNCOVERED_AGE_S,
        metavar="SECONDS",
        help="fail when an entry is this old and still not checkpointed (0: never; "
        "default: %(default).0f)",
    )
    _add_shard(verify, "verify only this ingress shard's log (and check --witness against it)")
    add_json_option(verify)
    _add_common(verify)
    verify.set_defaults(func=_verify)

    prove = sub.add_parser("prove", help="inclusion proof of a message's entries (JSON)")
    prove.add_argument("message_id", metavar="MESSAGE_ID")
    prove.add_argument("--out", type=Path, help="write to this file instead of stdout")
    _add_common(prove)
    prove.set_defaults(func=_prove)

    query = sub.add_parser("query", help="filter entries: a table, or JSON with --json")
    query.add_argument("--sender")
    query.add_argument("--target")
    query.add_argument("--message-id")
    query.add_argument("--since", help="2026-01-31, 2026-01-31T08:00:00Z, epoch or 7d")
    query.add_argument("--until", help="same forms as --since")
    query.add_argument(
        "--decision", action="append", choices=DECISIONS, default=[], help="repeatable"
    )
    query.add_argument("--entity-type", "--entity", dest="entity_type", help="e.g. US_SSN")
    query.add_argument("--limit", type=int, help="at most this many entries")
    query.add_argument("--archive", action="store_true", help="include archived entries (slower)")
    add_json_option(query)
    _add_common(query)
    query.set_defaults(func=_query)

    export = sub.add_parser(
        "export", help="entries with proof material, verifiable offline (JSONL or CSV)"
    )
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", type=Path, help="write to this file instead of stdout")
    export.add_argument("--since", help="entries appended from then on")
    export.add_argument("--until", help="up to the last checkpoint signed by then")
    _add_shard(export, "the ingress shard whose log to export (default: 0)", default=0)
    _add_common(export)
    export.set_defaults(func=_export)

    archive = sub.add_parser(
        "archive", help="move checkpointed entries older than a date to compressed files"
    )
    archive.add_argument("--before", required=True, help="2026-01-31, epoch or an age (90d)")
    archive.add_argument(
        "--dir",
        type=Path,
        default=Path("audit-archive"),
        help="where to write segments and manifest.json (default: %(default)s)",
    )
    _add_shard(archive, "archive only this ingress shard's log (default: every shard)")
    _add_pubkey(archive)
    _add_common(archive)
    archive.set_defaults(func=_archive)

    checkpoint = sub.add_parser(
        "checkpoint", help="print the latest signed checkpoint, to keep as a witness"
    )
    checkpoint.add_argument("--out", type=Path, help="write to this file instead of stdout")
    _add_shard(checkpoint, "the ingress shard whose checkpoint to print (default: 0)", default=0)
    add_redis_option(checkpoint, demo_data=True)
    checkpoint.set_defaults(func=_checkpoint)

    keys_ = sub.add_parser("keys", help="list the gateway public keys published in Redis")
    add_json_option(keys_)
    add_redis_option(keys_, demo_data=True)
    keys_.set_defaults(func=_keys)


def _shard_number(text: str) -> int:
    from mas import keys

    try:
        shard = int(text)
    except ValueError:
        shard = -1
    if not 0 <= shard < keys.INGRESS_SHARDS:
        raise argparse.ArgumentTypeError(f"a shard is 0..{keys.INGRESS_SHARDS - 1}, not {text!r}")
    return shard


def _add_shard(parser: argparse.ArgumentParser, help_text: str, default: int | None = None) -> None:
    parser.add_argument("--shard", type=_shard_number, default=default, help=help_text)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--archive-dir",
        type=Path,
        help="where archived segments are, when not where mas audit archive wrote them",
    )
    add_redis_option(parser, demo_data=True)


def _add_pubkey(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pubkey",
        action="append",
        default=[],
        metavar="KEY",
        help="trust only this gateway public key: base64, or a file holding one per line "
        "(repeatable; default: the keys published in Redis; required with --file)",
    )


# -- helpers -------------------------------------------------------------------


def _with_redis(url: str, work: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    """Run `work` with a client; an unreachable Redis is a configuration error (exit 2)."""

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from mas.redis_connect import connect_redis
    from mas.urls import redact_url

    async def run() -> T:
        try:
            client = connect_redis(url)
        except ValueError as exc:
            raise ConfigError(f"invalid --redis-url {redact_url(url)}: {exc}") from exc
        try:
            return await work(client)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConfigError(f"cannot reach Redis at {redact_url(url)}: {exc}") from exc
        finally:
            await client.aclose()

    return asyncio.run(run())


def _output(path: Path | None, write: Callable[[TextIO], object]) -> None:
    if path is None:
        write(sys.stdout)
        return
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            write(handle)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc


def _print_report(report: VerifyReport, as_json: bool) -> int:
    if as_json:
        print_json(report.to_json())
    else:
        stream = sys.stdout if report.ok else sys.stderr
        for line in report.lines():
            print(line, file=stream)
    return 0 if report.ok else 1


def _fail(message: str) -> int:
    print(f"mas audit: {message}", file=sys.stderr)
    return 1


# -- commands ------------------------------------------------------------------


def _default_witness(args: argparse.Namespace) -> Path | None:
    """The gateway's witness file, when the command runs where a gateway keeps it."""
    configured = os.environ.get("MAS_AUDIT_WITNESS_PATH")
    if configured:
        return Path(configured)
    if args.file is not None:
        return None
    home = DEMO_DATA_DIR if getattr(args, "using_demo_data", False) else DEFAULT_GATEWAY_KEY.parent
    candidate = home / WITNESS_NAME
    return candidate if candidate.is_file() else None


def _verify(args: argparse.Namespace) -> int:
    from ..audit.errors import AuditFormatError
    from ..audit.offline import load_witness, verify_file
    from ..audit.verifier import verify_log

    trusted = pinned_keys(args.pubkey)
    path = args.witness if args.witness is not None else _default_witness(args)
    if path is not None and args.witness is None:
        print(f"(checking against the gateway's witness {path})", file=sys.stderr)
    try:
        witness = load_witness(path) if path is not None else None
    except AuditFormatError as exc:
        raise ConfigError(f"witness {path}: {exc}") from exc
    if args.file is not None:
        if trusted is None:
            raise ConfigError(
                "--file needs --pubkey: offline verification trusts no key by default"
            )
        try:
            report = verify_file(args.file, trusted, witness=witness)
        except AuditFormatError as exc:
            return _fail(f"{args.file}: {exc}")
        return _print_report(report, args.json)

    if witness is not None and args.shard is None and args.witness is not None:
        raise ConfigError("--witness needs --shard: a checkpoint belongs to one shard's log")
    if witness is not None and path is not None and args.shard is None:
        witnesses = _shard_witnesses(path, witness)  # the gateway's witness files
    else:
        witnesses = {args.shard: witness} if witness is not None else {}
    shards = range(keys.INGRESS_SHARDS) if args.shard is None else [args.shard]

    async def work(client: aioredis.Redis) -> list[VerifyReport]:
        return [
            await verify_log(
                client,
                shard=shard,
                trusted=trusted,
                archive_dir=args.archive_dir,
                witness=witnesses.get(shard),
                max_uncovered_age_s=args.max_uncovered_age or None,
                progress=progress,
            )
            for shard in shards
        ]

    try:
        reports = _with_redis(args.redis_url, work)
    except AuditFormatError as exc:
        return _fail(str(exc))
    return _print_reports(reports, args.json)


def _shard_witnesses(path: Path, first: Any) -> dict[int, Any]:
    """Shard 0's witness at `path`, each other shard's next to it where the gateway wrote it
    (`mas_gateway.audit.witness.WitnessFile.for_shard`)."""
    from ..audit.errors import AuditFormatError
    from ..audit.offline import load_witness
    from ..audit.witness import WitnessFile

    witnesses: dict[int, Any] = {0: first}
    for shard in range(1, keys.INGRESS_SHARDS):
        shard_path = WitnessFile(path).for_shard(shard).path
        if shard_path.exists():
            try:
                witnesses[shard] = load_witness(shard_path)
            except AuditFormatError as exc:
                raise ConfigError(f"witness {shard_path}: {exc}") from exc
    return witnesses


def _print_reports(reports: list[VerifyReport], as_json: bool) -> int:
    """Every shard's report; exit 1 when any shard failed (each failure names its shard)."""
    failed = [r for r in reports if not r.ok]
    if as_json:
        print_json(
            {
                "ok": not failed,
                "failed_shards": [r.shard for r in failed],
                "shards": [r.to_json() for r in reports],
            }
        )
        return 1 if failed else 0
    for report in reports:
        if report.ok and not report.entries and not report.checkpoints:
            continue
        stream = sys.stdout if report.ok else sys.stderr
        for line in report.lines():
            print(line, file=stream)
    empty = sum(1 for r in reports if r.ok and not r.entries and not r.checkpoints)
    if empty:
        print(f"({empty} shards have an empty log)", file=sys.stdout)
    if failed:
        names = ", ".join(str(r.shard) for r in failed)
        print(f"FAILED: audit log shards {names} did not verify", file=sys.stderr)
        return 1
    return 0


def _prove(args: argparse.Namespace) -> int:
    from ..audit.errors import AuditError
    from ..audit.prove import build_proof

    async def work(client: aioredis.Redis) -> dict[str, Any]:
        return await build_proof(client, args.message_id, archive_dir=args.archive_dir)

    try:
        proof = _with_redis(args.redis_url, work)
    except AuditError as exc:
        return _fail(str(exc))
    _output(args.out, lambda out: out.write(json.dumps(proof, indent=2) + "\n"))
    if proof["not_yet_covered"]:
        print(
            f"mas audit: {proof['not_yet_covered']} newer entries of this message are not "
            "checkpointed yet and are not in the proof",
            file=sys.stderr,
        )
    return 0


def _query(args: argparse.Namespace) -> int:
    from ..audit.query import AuditQuery, format_table, run_query
    from ..audit.timespec import parse_time

    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be positive")
    query = AuditQuery(
        sender=args.sender,
        target=args.target,
        since=parse_time(args.since, option="--since") if args.since else None,
        until=parse_time(args.until, option="--until") if args.until else None,
        decisions=frozenset(args.decision),
        entity_type=args.entity_type,
        message_id=args.message_id,
    )

    async def work(client: aioredis.Redis) -> list[Any]:
        return await run_query(
            client,
            query,
            limit=args.limit,
            include_archive=args.archive,
            archive_dir=args.archive_dir,
        )

    rows = _with_redis(args.redis_url, work)
    if args.json:
        print_json([row.to_json() for row in rows])
    else:
        print(format_table(rows))
        print(f"{len(rows)} entries", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..audit.errors import AuditError
    from ..audit.export import build_export
    from ..audit.exportfile import write_csv, write_jsonl
    from ..audit.timespec import parse_time

    since = parse_time(args.since, option="--since") if args.since else None
    until = parse_time(args.until, option="--until") if args.until else None

    async def work(client: aioredis.Redis) -> Any:
        return await build_export(
            client, shard=args.shard, since=since, until=until, archive_dir=args.archive_dir
        )

    try:
        export = _with_redis(args.redis_url, work)
    except AuditError as exc:
        return _fail(str(exc))
    writer = write_csv if args.format == "csv" else write_jsonl
    _output(args.out, lambda out: writer(export, out))
    print(
        f"mas audit: exported entries #{export.start}..#{export.start + len(export.entries) - 1} "
        f"under {len(export.checkpoints)} checkpoints (tree size {export.tree_size})",
        file=sys.stderr,
    )
    return 0


def _archive(args: argparse.Namespace) -> int:
    from ..audit.archive import archive_before
    from ..audit.errors import AuditError
    from ..audit.timespec import parse_time

    before = parse_time(args.before, option="--before")
    trusted = pinned_keys(args.pubkey)

    async def work(client: aioredis.Redis) -> Any:
        shards = range(keys.INGRESS_SHARDS) if args.shard is None else [args.shard]
        segments = [
            await archive_before(
                client,
                shard=shard,
                before=before,
                directory=args.dir,
                archive_dir=args.archive_dir,
                trusted=trusted,
            )
            for shard in shards
        ]
        return [s for s in segments if s is not None]

    try:
        segments = _with_redis(args.redis_url, work)
    except AuditError as exc:
        return _fail(str(exc))
    if not segments:
        print("mas audit: nothing to archive (no checkpointed entry before that date)")
        return 0
    for segment in segments:
        print(
            f"archived entries #{segment.first_index}..#{segment.end_index - 1} "
            f"({segment.count}) to {Path(segment.directory) / segment.file}; "
            f"manifest: {Path(segment.directory) / 'manifest.json'}"
        )
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from ..audit.checkpoint import latest_checkpoint
    from ..audit.errors import AuditFormatError

    async def work(client: aioredis.Redis) -> Any:
        return await latest_checkpoint(client, shard=args.shard)

    try:
        latest = _with_redis(args.redis_url, work)
    except AuditFormatError as exc:
        return _fail(f"the latest checkpoint is malformed: {exc}")
    if latest is None:
        return _fail("no checkpoint yet")
    _output(args.out, lambda out: out.write(json.dumps(latest.signed.to_json(), indent=2) + "\n"))
    return 0


def _keys(args: argparse.Namespace) -> int:
    from mas import crypto

    from ..audit.checkpoint import load_gateway_keys

    async def work(client: aioredis.Redis) -> dict[str, Ed25519PublicKey]:
        return await load_gateway_keys(client)

    published = _with_redis(args.redis_url, work)
    if args.json:
        print_json({kid: crypto.public_key_to_b64(key) for kid, key in sorted(published.items())})
        return 0 if published else 1
    if not published:
        return _fail("no gateway key is published")
    for key_id, key in sorted(published.items()):
        print(f"{key_id} {crypto.public_key_to_b64(key)}")
    return 0
