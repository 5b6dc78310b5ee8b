"""The MAS service's options, shared by ``mas service`` and ``python -m mas.service``.

Outside `mas.service` so that registering them (``mas --help``) loads no Redis client.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .logs import add_logging_options

__all__ = ["add_service_options", "service_options"]

HTTP_ADDRESS_ENV = "MAS_SERVICE_HTTP_ADDRESS"


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """Add the service's options (Redis, timings, operations endpoints, logging)."""
    parser.add_argument(
        "--redis-url", default=None, help="Redis URL (default: $MAS_REDIS_URL or localhost)"
    )
    parser.add_argument(
        "--check-interval", type=float, default=5.0, help="seconds between health checks"
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=60.0,
        help="seconds after registration before an agent is checked",
    )
    parser.add_argument(
        "--http-address",
        default=os.environ.get(HTTP_ADDRESS_ENV) or None,
        metavar="HOST:PORT",
        help=f"serve /healthz, /readyz and /metrics here (default: ${HTTP_ADDRESS_ENV}; "
        "unset: not served)",
    )
    parser.add_argument(
        "--ready-stall",
        type=float,
        default=None,
        metavar="SECONDS",
        help="/readyz fails when a loop has not completed a round for this long "
        "(default: max(30, 3 x check interval + 10))",
    )
    add_logging_options(parser)


def service_options(args: argparse.Namespace) -> dict[str, Any]:
    """`MASService` keyword arguments from parsed options."""
    return {
        "check_interval": args.check_interval,
        "grace_period": args.grace_period,
        "http_address": args.http_address,
        "ready_stall_s": args.ready_stall,
    }
