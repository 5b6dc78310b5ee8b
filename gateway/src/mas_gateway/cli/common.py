"""Helpers shared by the command modules: options, logging, running a coroutine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas import crypto
from mas.errors import ConfigError, SignatureError

__all__ = [
    "DEFAULT_REDIS_URL",
    "add_redis_option",
    "configure_logging",
    "credentials_dir",
    "pinned_keys",
    "run_async",
]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


def add_redis_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--redis-url`` (default: env MAS_REDIS_URL, else localhost)."""
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("MAS_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis URL (default: $MAS_REDIS_URL or %(default)s)",
    )


def configure_logging(level: str = "INFO") -> None:
    """Plain, one-line log records on stderr."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def credentials_dir() -> Path:
    """Where agents look for credential files: $MAS_CREDENTIALS_DIR or ~/.config/mas/credentials."""
    configured = os.environ.get("MAS_CREDENTIALS_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".config" / "mas" / "credentials"


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine and return its exit code."""
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
