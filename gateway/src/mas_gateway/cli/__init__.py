"""The ``mas`` command line: one module per command group, registered here.

Exit codes: 0 ok, 1 a check failed, 2 usage or configuration error (one-line reason).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from mas.errors import ConfigError

from .common import resolve_redis_url

__all__ = ["main"]

# Modules that add sub-commands; each defines ``register(subparsers)``.
# A command's handler is stored as ``func`` on its parser and returns the exit code.
COMMAND_MODULES: list[str] = [
    "mas_gateway.cli.run",
    "mas_gateway.cli.agent",
    "mas_gateway.cli.acl",
    "mas_gateway.cli.policy",
    "mas_gateway.cli.demo",
    "mas_gateway.cli.dlp",
    "mas_gateway.cli.bench",
    "mas_gateway.cli.compliance",
    "mas_gateway.cli.audit",
    "mas_gateway.cli.dlq",
    "mas_gateway.cli.circuit",
    "mas_gateway.cli.status",
]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered command group."""
    parser = argparse.ArgumentParser(
        prog="mas", description="MAS: agents behind a security gateway"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mas``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler = args.func
    try:
        with resolve_redis_url(args):
            return func(args)
    except ConfigError as exc:
        print(f"mas: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        unreachable = _unreachable_redis(exc, args)
        if unreachable is None:
            raise
        print(f"mas: {unreachable}", file=sys.stderr)
        return 2


def _unreachable_redis(exc: Exception, args: argparse.Namespace) -> str | None:
    """What to say when a command could not reach Redis (None: `exc` is something else)."""
    if not type(exc).__module__.startswith("redis"):
        return None
    from redis.exceptions import AuthenticationError, ConnectionError, TimeoutError

    from mas.urls import redact_url

    url = getattr(args, "redis_url", None)
    where = f" at {redact_url(url)}" if url else ""
    if isinstance(exc, AuthenticationError):
        return f"Redis{where} refused the credentials: {exc}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"cannot reach Redis{where} ({type(exc).__name__}); is it running?"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
