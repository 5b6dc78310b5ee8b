"""``mas acl``: show, apply and check the Redis users of every MAS principal.

Operator commands: ``apply`` and ``check`` need the administrator's Redis URL.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from mas import acl

from .common import add_json_option, add_redis_option, print_json, run_async

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``acl`` command group."""
    parser = subparsers.add_parser("acl", help="Redis users of the gateway, service and agents")
    sub = parser.add_subparsers(dest="acl_command", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="print every principal's ACL rules")
    show.add_argument("--agent", default="ID", help="show the rules of this agent id")
    show.add_argument(
        "--commands", action="store_true", help="as ACL SETUSER commands (passwords not included)"
    )
    add_json_option(show)
    show.set_defaults(func=_show)

    apply = sub.add_parser(
        "apply",
        help="create or update the gateway's and service's users and re-apply every agent's rules",
    )
    apply.add_argument(
        "--out-dir",
        type=Path,
        help="write new passwords as Redis URLs here (mode 0600): mas-gateway.url, "
        "mas-service.url; without it, existing passwords are kept",
    )
    add_redis_option(apply)
    apply.set_defaults(func=_apply)

    check = sub.add_parser(
        "check", help="what agents or anonymous clients could do that they must not (exit 1)"
    )
    add_json_option(check)
    add_redis_option(check)
    check.set_defaults(func=_check)


def _principals(agent_id: str) -> list[acl.Principal]:
    return [acl.gateway_principal(), acl.service_principal(), acl.agent_principal(agent_id)]


def _show(args: argparse.Namespace) -> int:
    if args.json:
        print_json(
            [
                {
                    "username": p.username,
                    "setuser_rules": p.setuser_rules(),
                    "selectors": [
                        {"purpose": s.purpose or None, "rules": s.rules()}
                        for s in (p.root, *p.selectors)
                    ],
                }
                for p in _principals(args.agent)
            ]
        )
        return 0
    for principal in _principals(args.agent):
        if args.commands:
            print(" ".join(["ACL", "SETUSER", principal.username, *principal.setuser_rules()]))
        else:
            print(principal.describe())
            print()
    return 0


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def _apply(args: argparse.Namespace) -> int:
    from mas.provisioning import (
        apply_agent_rules,
        create_principal,
        generate_password,
        known_agents,
    )
    from mas.redis_connect import connect_redis
    from mas.urls import with_credentials

    async def run() -> int:
        client = connect_redis(args.redis_url)
        out_dir: Path | None = args.out_dir
        try:
            for principal in (acl.gateway_principal(), acl.service_principal()):
                password = generate_password() if out_dir is not None else None
                await create_principal(client, principal, password)
                if out_dir is not None and password is not None:
                    out = out_dir / f"{principal.username}.url"
                    _write_private(
                        out, with_credentials(args.redis_url, principal.username, password)
                    )
                    print(f"{principal.username}: rules applied, new password in {out}")
                else:
                    print(f"{principal.username}: rules applied (password kept)")
            agents = await known_agents(client)
            for agent_id in agents:
                await apply_agent_rules(client, agent_id)
            print(f"re-applied the rules of {len(agents)} agent user(s)")
        finally:
            await client.aclose()
        return 0

    return run_async(run())


def _check(args: argparse.Namespace) -> int:
    from mas.redis_connect import connect_redis

    from ..acl_check import least_privilege_problems

    async def run() -> int:
        client = connect_redis(args.redis_url)
        try:
            problems = await least_privilege_problems(client, args.redis_url)
        finally:
            await client.aclose()
        if args.json:
            print_json({"ok": not problems, "problems": [str(p) for p in problems]})
            return 1 if problems else 0
        for problem in problems:
            print(f"problem: {problem}")
        if problems:
            return 1
        print("OK: no agent user can reach the trust root; anonymous access is refused")
        return 0

    return run_async(run())
