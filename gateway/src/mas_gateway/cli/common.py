"""Helpers shared by the command modules: options, logging, running a coroutine."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_REDIS_URL",
    "add_redis_option",
    "configure_logging",
    "credentials_dir",
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
