"""``mas gateway`` and ``mas service``: run the long-lived processes."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    DEFAULT_GATEWAY_KEY,
    add_logging_options,
    configure_logging,
    run_async,
)

if TYPE_CHECKING:
    from ..service import GatewayService
    from ..settings import GatewaySettings

__all__ = ["catch_signals", "register"]


def register(subparsers: Any) -> None:
    """Add the ``gateway`` and ``service`` commands."""
    gateway = subparsers.add_parser("gateway", help="run a gateway process")
    gateway_sub = gateway.add_subparsers(dest="gateway_command", metavar="ACTION")
    keygen = gateway_sub.add_parser("keygen", help="create the gateway's Ed25519 signing key")
    keygen.add_argument("--out", type=Path, default=DEFAULT_GATEWAY_KEY)
    keygen.set_defaults(func=_keygen)
    token = gateway_sub.add_parser(
        "dashboard-token", help="issue an operator token for the dashboard (prints its hash)"
    )
    token.set_defaults(func=_dashboard_token)
    gateway.add_argument(
        "--config", type=Path, help="YAML settings file (MAS_* env applies on top)"
    )
    gateway.add_argument("--redis-url", help="Redis URL (default: settings / $MAS_REDIS_URL)")
    gateway.add_argument("--policies", type=Path, help="policies directory")
    gateway.add_argument("--signing-key", type=Path, help="path of the gateway signing key")
    gateway.add_argument(
        "--auto-provision",
        action="store_true",
        default=None,
        help="development: accept auto-provisioned agents, create a missing signing key",
    )
    add_logging_options(gateway)
    gateway.set_defaults(func=_run_gateway)

    from mas.service_options import add_service_options

    service = subparsers.add_parser(
        "service",
        help="run the MAS registry and health service (same options as python -m mas.service)",
    )
    add_service_options(service)
    service.set_defaults(func=_run_service, parser=service)


def _settings(args: argparse.Namespace) -> GatewaySettings:
    from ..settings import GatewaySettings

    overrides: dict[str, Any] = {}
    if args.redis_url:
        overrides["redis_url"] = args.redis_url
    if args.policies:
        overrides["policies_dir"] = args.policies
    if args.signing_key:
        overrides["signing_key_path"] = args.signing_key
    if args.auto_provision:
        overrides["auto_provision"] = True
    if args.config:
        return GatewaySettings.from_yaml(args.config, **overrides)
    return GatewaySettings.build(**overrides)


def catch_signals() -> asyncio.Event:
    """An event set on SIGINT or SIGTERM, from now on.

    Installed before a long start (models, workers), so a signal during it leads to an
    orderly stop instead of the default death that would leave child processes behind.
    The handlers stay installed until the event loop closes, so a repeated signal
    during the orderly shutdown that follows is absorbed instead of killing the process.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _run_gateway(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)
    settings = _settings(args)

    async def run() -> int:
        from ..service import GatewayService

        stop = catch_signals()
        async with GatewayService(settings) as gateway:
            if stop.is_set():
                return 0
            print(_ready_line(gateway), file=sys.stderr, flush=True)
            failed = asyncio.create_task(gateway.wait_failed())
            signalled = asyncio.create_task(stop.wait())
            await asyncio.wait({failed, signalled}, return_when=asyncio.FIRST_COMPLETED)
            signalled.cancel()
            if failed.done():
                print(f"mas gateway: {failed.result()}; exiting", file=sys.stderr)
                return 1
            failed.cancel()
        return 0

    from mas.otel_setup import configured_telemetry

    with configured_telemetry("mas-gateway"):
        return run_async(run())


def _ready_line(gateway: GatewayService) -> str:
    """The line `mas gateway` prints once it consumes: what a person or a script waits for."""
    store = gateway.policy
    version = store.current.version[:12] if store is not None and store.current else "?"
    where = ""
    if gateway.settings.http_address is not None and gateway.ops_port is not None:
        host = gateway.settings.http_address.rpartition(":")[0]
        where = f", operations on http://{host}:{gateway.ops_port}"
    return f"mas gateway: ready (gateway {gateway.settings.gateway_id}, policy {version}{where})"


def _keygen(args: argparse.Namespace) -> int:
    from ..signing import public_key_path, write_signing_key

    key = write_signing_key(args.out)
    print(f"wrote gateway signing key {args.out} (key id {key.key_id}, mode 0600)")
    print(f"public key: {key.public_key_b64} (also in {public_key_path(args.out)})")
    return 0


def _dashboard_token(args: argparse.Namespace) -> int:
    from mas import crypto

    token = crypto.generate_token()
    print(f"operator token (give it to the operators; it is not stored): {token}")
    print(f"gateway setting: dashboard_token_sha256: {crypto.hash_token(token)}")
    print("open http://<http_address>/dashboard#token=<token>")
    return 0


def _run_service(args: argparse.Namespace) -> int:
    from mas.service.__main__ import run_main

    return run_main(args, args.parser)
