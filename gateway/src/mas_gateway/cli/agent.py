"""``mas agent``: provision agents, rotate credentials, revoke, show records.

These are operator commands: the Redis URL must carry the administrator's
credentials, since provisioning creates the agent's Redis ACL user.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from mas import crypto, keys
from mas.credentials import Credentials
from mas.errors import ConfigError, CredentialsError
from mas.provisioning import provision_agent, revoke_agent, rotate_credentials
from mas.records import Identity, Profile, TrustRecord, check_agent_id

from .common import (
    add_gateway_key_option,
    add_redis_option,
    credentials_dir,
    pinned_gateway_keys,
    run_async,
)

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
    add_redis_option(show)
    show.set_defaults(func=_show)


def _default_out(agent_id: str) -> Path:
    return credentials_dir() / f"{agent_id}.json"


def _provision(args: argparse.Namespace) -> int:
    try:
        check_agent_id(args.agent_id)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    gateway_keys = pinned_gateway_keys(args.gateway_key)

    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
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
        creds = Credentials.issued(
            agent_id=issued.agent_id,
            token=issued.token,
            private_key_b64=issued.private_key_b64,
            redis_username=issued.redis_username,
            redis_password=issued.redis_password,
            gateway_keys=gateway_keys,
        )
        creds.save(out)
        roles = sorted(set(args.role))
        print(f"provisioned {issued.agent_id} (key {issued.key_id}, roles {roles}, "
              f"Redis user {issued.redis_username})")  # fmt: skip
        print(f"credential file: {out} (mode 0600; load it with Agent(credentials=...))")
        print(f"pinned gateway key(s): {', '.join(sorted(gateway_keys))}")
        return 0

    return run_async(run())


def _rotate(args: argparse.Namespace) -> int:
    out: Path = args.out or _default_out(args.agent_id)
    try:
        creds = Credentials.load(out)
    except CredentialsError as exc:
        raise ConfigError(f"{exc}; pass the agent's credential file with --out") from exc

    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
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
    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
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


def _show(args: argparse.Namespace) -> int:
    async def run() -> int:
        client = aioredis.Redis.from_url(args.redis_url)
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.agent_record(args.agent_id))
                pipe.hgetall(keys.agent_identity(args.agent_id))
                pipe.hgetall(keys.agent_trust(args.agent_id))
                profile_raw, identity_raw, trust_raw = await pipe.execute()
        finally:
            await client.aclose()
        trust = TrustRecord.from_hash(trust_raw)
        if trust is None:
            raise ConfigError(f"unknown agent {args.agent_id!r}")
        identity = Identity.from_hash(identity_raw)
        shown = {
            **Profile.from_hash(args.agent_id, profile_raw).public(),
            "public_key": identity.public_key if identity else None,
            "key_id": identity.key_id if identity else None,
            "roles": list(trust.roles),
            "provisioned_by": str(trust.provisioned_by),
            "provisioned_at": trust.provisioned_at,
            "revoked_at": trust.revoked_at,
        }
        print(json.dumps(shown, indent=2, sort_keys=True))
        return 0

    return run_async(run())
