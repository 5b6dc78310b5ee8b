"""``mas agent``: provision agents, rotate credentials, revoke, show records.

These are operator commands: the Redis URL must carry the administrator's
credentials, since provisioning creates the agent's Redis ACL user.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mas.errors import ConfigError, CredentialsError

from .common import (
    add_gateway_key_option,
    add_json_option,
    add_redis_option,
    credentials_dir,
    pinned_gateway_keys,
    print_json,
    printable,
    run_async,
)

if TYPE_CHECKING:
    from ..ops.overview import AgentView

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``agent`` command group."""
    parser = subparsers.add_parser("agent", help="provision and manage agent credentials")
    sub = parser.add_subparsers(dest="agent_command", required=True, metavar="ACTION")

    provision = sub.add_parser(
        "provision", help="create an agent's key pair, token, Redis user and roles"
    )
    provision.add_argument("agent_id")
    provision.add_argument("--role", action="append", default=[], help="role (repeatable)")
    provision.add_argument("--out", type=Path, help="credential file (default: credentials dir)")
    add_gateway_key_option(provision, "to pin in the credential file")
    provision.add_argument(
        "--replace-key",
        action="store_true",
        help="issue new credentials for a known agent (e.g. after a compromise: its outbox, "
        "delivery ledger and inbox position start over; queued deliveries are kept)",
    )
    provision.add_argument(
        "--reset-state",
        action="store_true",
        help="with --replace-key: also delete the agent's persisted state",
    )
    add_redis_option(provision)
    provision.set_defaults(func=_provision)

    rotate = sub.add_parser(
        "rotate-token", help="issue a new token and Redis password; the old ones stop working"
    )
    rotate.add_argument("agent_id")
    rotate.add_argument("--out", type=Path, help="credential file to update")
    add_redis_option(rotate)
    rotate.set_defaults(func=_rotate)

    revoke = sub.add_parser(
        "revoke", help="revoke an agent: its Redis user is disabled, its messages get 401"
    )
    revoke.add_argument("agent_id")
    add_redis_option(revoke)
    revoke.set_defaults(func=_revoke)

    show = sub.add_parser("show", help="print an agent's registry records (no secrets)")
    show.add_argument("agent_id")
    add_json_option(show)
    add_redis_option(show)
    show.set_defaults(func=_show)

    listing = sub.add_parser(
        "list", help="every provisioned agent: status, heartbeat age, instances, roles, revoked"
    )
    add_json_option(listing)
    add_redis_option(listing)
    listing.set_defaults(func=_list)


def _default_out(agent_id: str) -> Path:
    return credentials_dir() / f"{agent_id}.json"


def _provision(args: argparse.Namespace) -> int:
    from mas.credentials import Credentials
    from mas.provisioning import provision_agent
    from mas.records import check_agent_id
    from mas.redis_connect import connect_redis

    try:
        check_agent_id(args.agent_id)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    gateway_keys = pinned_gateway_keys(args.gateway_key)

    async def run() -> int:
        client = connect_redis(args.redis_url)
        try:
            issued = await provision_agent(
                client,
                args.agent_id,
                list(args.role),
                replace_key=args.replace_key,
                reset_state=args.reset_state,
            )
        finally:
            await client.aclose()
        out: Path = args.out or _default_out(args.agent_id)
        creds = Credentials.from_issued(issued, gateway_keys)
        creds.save(out)
        roles = sorted(set(args.role))
        print(f"provisioned {issued.agent_id} (key {issued.key_id}, roles {roles}, "
              f"Redis user {issued.redis_username})")  # fmt: skip
        print(f"credential file: {out} (mode 0600; load it with Agent(credentials=...))")
        print(f"pinned gateway key(s): {', '.join(sorted(gateway_keys))}")
        return 0

    return run_async(run())


def _rotate(args: argparse.Namespace) -> int:
    from mas import crypto
    from mas.credentials import Credentials
    from mas.provisioning import rotate_credentials
    from mas.redis_connect import connect_redis

    out: Path = args.out or _default_out(args.agent_id)
    try:
        creds = Credentials.load(out)
    except CredentialsError as exc:
        raise ConfigError(f"{exc}; pass the agent's credential file with --out") from exc

    async def run() -> int:
        client = connect_redis(args.redis_url)
        try:
            token, password = await rotate_credentials(client, args.agent_id)
        finally:
            await client.aclose()
        rotated = Credentials.issued(
            agent_id=creds.agent_id,
            token=token,
            private_key_b64=crypto.private_key_to_b64(creds.private_key),
            redis_username=creds.redis_username,
            redis_password=password,
            gateway_keys=creds.gateway_keys,
        )
        rotated.save(out)
        print(f"rotated the token and Redis password of {args.agent_id}; updated {out}")
        return 0

    return run_async(run())


def _revoke(args: argparse.Namespace) -> int:
    from mas.provisioning import revoke_agent
    from mas.redis_connect import connect_redis

    async def run() -> int:
        client = connect_redis(args.redis_url)
        try:
            await revoke_agent(client, args.agent_id)
        finally:
            await client.aclose()
        print(
            f"revoked {args.agent_id}: its Redis user is disabled and anything left in its "
            "outbox is refused with 401"
        )
        return 0

    return run_async(run())


def _views(args: argparse.Namespace, agent_ids: list[str] | None) -> list[AgentView]:
    from mas.redis_connect import connect_redis

    from ..ops.overview import agent_views

    async def run() -> list[AgentView]:
        client = connect_redis(args.redis_url)
        try:
            return await agent_views(client, agent_ids)
        finally:
            await client.aclose()

    return run_async(run())


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _when(at: float | None) -> str:
    if not at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _show(args: argparse.Namespace) -> int:
    [view] = _views(args, [args.agent_id])
    if view.trust is None:
        raise ConfigError(f"unknown agent {args.agent_id!r}")
    now = time.time()
    shown = view.to_json(now)
    if args.json:
        print_json(shown)
        return 0
    revoked = f"yes, at {_when(view.trust.revoked_at)}" if view.trust.revoked else "no"
    rows = [
        ("agent", view.agent_id),
        ("status", shown["status"]),
        ("revoked", revoked),
        ("roles", ", ".join(shown["roles"]) or "(none: base role agent only)"),
        ("capabilities", ", ".join(shown["capabilities"]) or "-"),
        ("instances", ", ".join(view.instances) or "(none alive)"),
        ("last heartbeat", f"{_age(shown['heartbeat_age_s'])} ago" if view.last_heartbeat else "-"),
        ("registered", _when(view.profile.registered_at)),
        ("provisioned", f"{_when(view.trust.provisioned_at)} by {shown['provisioned_by']}"),
        ("key id", shown["key_id"] or "-"),
        ("public key", shown["public_key"] or "-"),
    ]
    if view.profile.metadata:
        rows.append(
            ("metadata", ", ".join(f"{k}={v}" for k, v in sorted(view.profile.metadata.items())))
        )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label + ':':<{width + 1}} {printable(str(value))}")
    return 0


def _list(args: argparse.Namespace) -> int:
    views = _views(args, None)
    now = time.time()
    if args.json:
        print_json([view.to_json(now) for view in views])
        return 0
    if not views:
        print("no provisioned agents")
        return 0
    header = ("AGENT", "STATUS", "HEARTBEAT", "INSTANCES", "ROLES", "REVOKED")
    rows: list[tuple[str, ...]] = [header]
    for view in views:
        record = view.to_json(now)
        rows.append(
            (
                view.agent_id,
                record["status"],
                _age(record["heartbeat_age_s"]),
                str(len(view.instances)),
                ",".join(record["roles"]) or "-",
                "yes" if record["revoked"] else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(
            printable(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        )
    print(f"{len(views)} agent(s)", file=sys.stderr)
    return 0
