"""``mas demo``: the healthcare system on a local stack, narrated (see `demo_run`)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_logging_options

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser("demo", help="run the healthcare demo on a local stack")
    parser.add_argument("--redis-url", help="use this Redis instead of an embedded one")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    add_logging_options(parser, default="ERROR")
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from .demo_run import run_demo  # the gateway, spaCy and Presidio load only when it runs

    return run_demo(args)
