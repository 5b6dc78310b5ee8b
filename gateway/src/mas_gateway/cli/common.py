"""Helpers shared by the command modules: options, logging, running a coroutine."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mas.errors import ConfigError, SignatureError
from mas.logs import LOG_LEVELS, JsonFormatter, add_logging_options, configure_logging

if TYPE_CHECKING:  # registering arguments stays cheap: these load in the handlers
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "DEFAULT_GATEWAY_KEY",
    "DEFAULT_REDIS_URL",
    "DEMO_DATA_DIR",
    "LOG_LEVELS",
    "JsonFormatter",
    "add_gateway_key_option",
    "add_json_option",
    "add_logging_options",
    "add_redis_option",
    "configure_logging",
    "credentials_dir",
    "pinned_gateway_keys",
    "pinned_keys",
    "print_json",
    "printable",
    "progress",
    "resolve_redis_url",
    "run_async",
]

T = TypeVar("T")

DEFAULT_REDIS_URL = "redis://localhost:6379/0"

DEFAULT_GATEWAY_KEY = Path(".mas/gateway_signing_key")
"""Where `mas gateway keygen` writes the signing key by default (its public half: ``.pub``)."""


DEMO_DATA_DIR = Path(".mas") / "demo"
"""Where `mas demo` keeps its embedded Redis snapshot, relative to the working directory."""


def add_redis_option(parser: argparse.ArgumentParser, *, demo_data: bool = False) -> None:
    """Add ``--redis-url``; `main` resolves a missing one (see `resolve_redis_url`).

    With `demo_data`, a read-only command falls back to the data the last `mas demo`
    left in `DEMO_DATA_DIR` when no Redis is configured.
    """
    fallback = f"$MAS_REDIS_URL, else {DEFAULT_REDIS_URL}"
    if demo_data:
        fallback = f"$MAS_REDIS_URL, else the last `mas demo`'s data, else {DEFAULT_REDIS_URL}"
    parser.add_argument("--redis-url", default=None, help=f"Redis URL (default: {fallback})")
    parser.set_defaults(redis_option=True, demo_data=demo_data)


@contextlib.contextmanager
def resolve_redis_url(args: argparse.Namespace) -> Iterator[None]:
    """Fill in ``args.redis_url`` for the command's duration (may start an embedded Redis)."""
    if not getattr(args, "redis_option", False) or args.redis_url:
        yield
        return
    configured = os.environ.get("MAS_REDIS_URL")
    snapshot = DEMO_DATA_DIR / "dump.rdb"
    if configured or not (args.demo_data and snapshot.is_file()):
        args.redis_url = configured or DEFAULT_REDIS_URL
        yield
        return
    from ..embedded_redis import EmbeddedRedis

    print(f"(no Redis configured: reading the last `mas demo`'s data in {DEMO_DATA_DIR}/)",
          file=sys.stderr)  # fmt: skip
    with EmbeddedRedis(data_dir=DEMO_DATA_DIR) as url:
        args.redis_url = url
        args.using_demo_data = True
        yield


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``: print one JSON document on stdout instead of text (see `print_json`)."""
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout instead of text"
    )


def print_json(document: object) -> None:
    """The ``--json`` convention: one JSON document (object or array) on stdout, indented.

    Nothing else goes to stdout; notes and progress go to stderr.
    """
    import json

    print(json.dumps(document, indent=2, sort_keys=True, default=str))


def progress(message: str) -> None:
    """A progress line on stderr, for long work (stdout stays the command's result)."""
    print(f"... {message}", file=sys.stderr, flush=True)


def credentials_dir() -> Path:
    """Where agents look for credential files: $MAS_CREDENTIALS_DIR or ~/.config/mas/credentials."""
    configured = os.environ.get("MAS_CREDENTIALS_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".config" / "mas" / "credentials"


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine and return its result (an exit code, or data)."""
    import asyncio

    return asyncio.run(coro)


def _key_lines(value: str) -> list[str]:
    """The base64 keys a --pubkey value names: itself, or a file's lines (`key_id key` too)."""
    path = Path(value)
    if not path.is_file():
        return [value]
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --pubkey {path}: {exc}") from exc
    lines = [line.split()[-1] for line in text.splitlines() if line.strip()]
    return [line for line in lines if not line.startswith("#")]


def pinned_keys(values: list[str]) -> dict[str, Ed25519PublicKey] | None:
    """Pinned gateway keys by key id, or None to use the keys published in Redis."""
    if not values:
        return None
    from mas import crypto

    trusted: dict[str, Ed25519PublicKey] = {}
    for value in values:
        lines = _key_lines(value)
        if not lines:
            raise ConfigError(f"--pubkey {value} holds no key")
        for line in lines:
            try:
                key = crypto.load_public_key(line)
            except SignatureError:
                raise ConfigError(
                    f"--pubkey {value} is neither a file nor a base64 Ed25519 public key"
                ) from None
            trusted[crypto.key_id(key)] = key
    return trusted


def _public_key_from_file(path: Path) -> str:
    """The base64 public key in a ``*.pub`` file (``[key_id] key``), or of a signing key file."""
    from mas import crypto

    from ..signing import load_signing_key

    if path.suffix != ".pub":
        return load_signing_key(path).public_key_b64
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read gateway key file {path}: {exc}") from exc
    lines = [line.split()[-1] for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    if not lines:
        raise ConfigError(f"gateway key file {path} holds no key")
    try:
        return crypto.public_key_to_b64(crypto.load_public_key(lines[0]))
    except SignatureError as exc:
        raise ConfigError(f"gateway key file {path} holds no base64 Ed25519 public key") from exc


def pinned_gateway_keys(option: Path | None) -> dict[str, str]:
    """Gateway key id -> public key to pin, from the operator's files, never from Redis."""
    from mas import crypto

    from ..signing import public_key_path

    values: list[str] = []
    if option is not None:
        values = [_public_key_from_file(option)]
    elif os.environ.get("MAS_GATEWAY_PUBLIC_KEY"):
        values = [v.strip() for v in os.environ["MAS_GATEWAY_PUBLIC_KEY"].split(",") if v.strip()]
    else:
        for candidate in (public_key_path(DEFAULT_GATEWAY_KEY), DEFAULT_GATEWAY_KEY):
            if candidate.is_file():
                values = [_public_key_from_file(candidate)]
                break
    if not values:
        raise ConfigError(
            "no gateway key to pin in the credential file: pass --gateway-key FILE (the "
            "gateway's public key file written by `mas gateway keygen`, or its signing key) "
            "or set MAS_GATEWAY_PUBLIC_KEY"
        )
    pinned: dict[str, str] = {}
    for value in values:
        try:
            key = crypto.load_public_key(value)
        except SignatureError as exc:
            raise ConfigError(f"gateway public key is not a base64 Ed25519 key: {exc}") from exc
        pinned[crypto.key_id(key)] = crypto.public_key_to_b64(key)
    return pinned


def add_gateway_key_option(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--gateway-key``: the operator's copy of the gateway's public key."""
    parser.add_argument(
        "--gateway-key",
        type=Path,
        help=f"the gateway's public key file (*.pub) or its signing key, {what} "
        f"(default: $MAS_GATEWAY_PUBLIC_KEY, else {DEFAULT_GATEWAY_KEY}.pub or "
        f"{DEFAULT_GATEWAY_KEY})",
    )


def printable(text: str) -> str:
    """`text` with control characters escaped, for values agents wrote (profiles, letters)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
