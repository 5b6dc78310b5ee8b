"""Operator actions on agents and principals: issue, rotate and revoke credentials.

Everything here needs the deployment's administrator connection (it creates Redis
ACL users). An agent's credentials are its Ed25519 key pair, a bearer token and
its own Redis user and password; the operator keeps only the public key and the
token's hash, and hands the rest over once, in the agent's credential file.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from . import acl, crypto, keys
from .errors import ConfigError
from .records import Identity, Profile, Provisioner, Status, TrustRecord, is_valid_agent_id
from .redis_connect import for_each_node
from .redis_text import as_text

__all__ = [
    "IssuedCredentials",
    "apply_agent_rules",
    "create_principal",
    "generate_password",
    "known_agents",
    "provision_agent",
    "revoke_agent",
    "rotate_credentials",
    "save_acl",
]

log = logging.getLogger(__name__)


def generate_password() -> str:
    """A random Redis password (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedCredentials:
    """What the operator hands to an agent once: everything its credential file holds."""

    agent_id: str
    token: str
    private_key_b64: str
    public_key_b64: str
    key_id: str
    redis_username: str
    redis_password: str

    def __repr__(self) -> str:
        return f"IssuedCredentials({self.agent_id!r}, key_id={self.key_id!r})"


async def _acl(admin: aioredis.Redis, *args: str) -> None:
    """Run an ``ACL`` command on every data node: Redis does not replicate users."""

    async def run(node: aioredis.Redis) -> None:
        await node.execute_command("ACL", *args)

    await for_each_node(admin, run)


async def _setuser(admin: aioredis.Redis, principal: acl.Principal, *extra: str) -> None:
    try:
        await _acl(admin, "SETUSER", principal.username, *principal.setuser_rules(), *extra)
    except ResponseError as exc:
        raise ConfigError(f"cannot create Redis user {principal.username}: {exc}") from exc


async def save_acl(admin: aioredis.Redis) -> None:
    """Persist users with ``ACL SAVE`` on every node that keeps an ACL file."""

    async def run(node: aioredis.Redis) -> None:
        try:
            await node.execute_command("ACL", "SAVE")
        except ResponseError as exc:
            if "ACL file" not in str(exc) and "aclfile" not in str(exc).lower():
                raise

    await for_each_node(admin, run)


async def create_principal(
    admin: aioredis.Redis, principal: acl.Principal, password: str | None
) -> None:
    """Create or update a service principal's user; with `password`, set it as its only one."""
    extra = ("resetpass", f">{password}") if password is not None else ()
    await _setuser(admin, principal, *extra)
    await save_acl(admin)


async def apply_agent_rules(admin: aioredis.Redis, agent_id: str) -> None:
    """Re-apply an agent user's rules (keeping its password); revoked agents stay disabled."""
    trust = TrustRecord.from_hash(await admin.hgetall(keys.agent_trust(agent_id)))  # type: ignore[misc]
    principal = acl.agent_principal(agent_id)
    await _setuser(admin, principal, *(("off",) if trust is None or trust.revoked else ()))


def _check_id(agent_id: str) -> None:
    if not is_valid_agent_id(agent_id):
        raise ConfigError(
            f"invalid agent id {agent_id!r}: letters, digits, '_', '.', '-' "
            "(at most 128, not starting with 'mas.')"
        )


async def _kill_connections(admin: aioredis.Redis, username: str) -> None:
    async def run(node: aioredis.Redis) -> None:
        try:
            await node.execute_command("CLIENT", "KILL", "USER", username)
        except ResponseError as exc:  # no such user yet
            log.debug("no connections of %s to close: %s", username, exc)

    await for_each_node(admin, run)


async def provision_agent(
    admin: aioredis.Redis,
    agent_id: str,
    roles: list[str],
    *,
    replace_key: bool = False,
    reset_state: bool = False,
    provisioned_by: Provisioner = Provisioner.OPERATOR,
) -> IssuedCredentials:
    """Issue an agent's key pair, token and Redis user; record the public parts and roles.

    With `replace_key` (new credentials for a known agent, e.g. after a compromise)
    what the old credentials' holder could have left is undone; see `_start_over`.
    """
    _check_id(agent_id)
    existing = Identity.from_hash(await admin.hgetall(keys.agent_identity(agent_id)))  # type: ignore[misc]
    if existing is not None and not replace_key:
        raise ConfigError(
            f"agent {agent_id!r} already has a key; use --replace-key to issue a new one"
        )
    private = crypto.generate_private_key()
    token = crypto.generate_token()
    password = generate_password()
    issued = IssuedCredentials(
        agent_id=agent_id,
        token=token,
        private_key_b64=crypto.private_key_to_b64(private),
        public_key_b64=crypto.public_key_to_b64(private),
        key_id=crypto.key_id(private),
        redis_username=acl.agent_username(agent_id),
        redis_password=password,
    )
    now = time.time()
    trust = TrustRecord(
        token_hash=crypto.hash_token(token),
        roles=tuple([] if provisioned_by != Provisioner.OPERATOR else roles),
        provisioned_by=provisioned_by,
        provisioned_at=now,
    )
    identity = Identity(public_key=issued.public_key_b64, key_id=issued.key_id)
    profile = Profile(agent_id=agent_id, status=Status.INACTIVE, registered_at=now)
    await _setuser(admin, acl.agent_principal(agent_id), "resetpass", f">{password}")
    # One slot: the agent's hashes change together. A re-provisioned agent starts over.
    async with admin.pipeline(transaction=True) as pipe:
        pipe.delete(keys.agent_trust(agent_id))
        pipe.hset(keys.agent_trust(agent_id), mapping=trust.to_mapping())
        pipe.hset(keys.agent_identity(agent_id), mapping=identity.to_mapping())
        for name, value in profile.to_mapping().items():
            pipe.hsetnx(keys.agent_record(agent_id), name, value)
        pipe.hset(keys.agent_record(agent_id), "status", Status.INACTIVE)
        await pipe.execute()
    await admin.sadd(keys.ALL_AGENTS, agent_id)  # type: ignore[misc]
    if replace_key:
        await _kill_connections(admin, issued.redis_username)
        await _start_over(admin, agent_id, reset_state=reset_state)
    await _create_groups(admin, agent_id)
    await save_acl(admin)
    return issued


async def _create_groups(admin: aioredis.Redis, agent_id: str) -> None:
    """The outbox's group (the gateway's) and the inbox's (the agent's), from the start.

    The operator creates both, so an agent never needs to (and cannot) create its
    inbox group at a position that would skip its own deliveries.
    """
    for stream, group in (
        (keys.agent_outbox(agent_id), keys.GATEWAY_GROUP),
        (keys.agent_stream(agent_id), keys.AGENTS_GROUP),
    ):
        try:
            await admin.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def _start_over(admin: aioredis.Redis, agent_id: str, *, reset_state: bool) -> None:
    """Undo what a compromised holder of the old credentials could have left behind.

    The outbox is emptied (its ids may have been pushed to the end), the inbox group
    is recreated from the start (its position may have been moved; undelivered and
    unhandled deliveries stay and are handled by the new holder), the delivery
    ledger and liveness are cleared, and with `reset_state` the agent's state too.
    """
    owned = [
        keys.agent_done(agent_id, "*"),
        keys.agent_handling(agent_id, "*"),
        keys.agent_pending_request(agent_id, "*"),
        keys.agent_instance(agent_id, "*"),
    ]
    doomed = [
        keys.agent_outbox(agent_id),
        keys.agent_errors(agent_id),
        keys.agent_health(agent_id),
        keys.agent_instances(agent_id),
        keys.agent_heartbeat(agent_id),
        *([keys.agent_state(agent_id)] if reset_state else []),
    ]
    for pattern in owned:
        async for key in admin.scan_iter(match=pattern, count=1000):
            doomed.append(key)
    await admin.delete(*doomed)
    try:
        await admin.xgroup_destroy(keys.agent_stream(agent_id), keys.AGENTS_GROUP)
    except ResponseError as exc:  # no inbox yet
        log.debug("no inbox group of %s to recreate: %s", agent_id, exc)


async def _require_known(admin: aioredis.Redis, agent_id: str) -> TrustRecord:
    trust = TrustRecord.from_hash(await admin.hgetall(keys.agent_trust(agent_id)))  # type: ignore[misc]
    if trust is None:
        raise ConfigError(f"unknown agent {agent_id!r}")
    return trust


async def rotate_credentials(admin: aioredis.Redis, agent_id: str) -> tuple[str, str]:
    """New token and Redis password; the old ones stop working at once. Returns both."""
    trust = await _require_known(admin, agent_id)
    if trust.revoked:
        raise ConfigError(f"agent {agent_id!r} is revoked; provision it again with --replace-key")
    token, password = crypto.generate_token(), generate_password()
    username = acl.agent_username(agent_id)
    await _acl(admin, "SETUSER", username, "resetpass", f">{password}")
    await admin.hset(keys.agent_trust(agent_id), "token_hash", crypto.hash_token(token))  # type: ignore[misc]
    await _kill_connections(admin, username)
    await save_acl(admin)
    return token, password


async def revoke_agent(admin: aioredis.Redis, agent_id: str) -> None:
    """Revoke an agent: its Redis user is disabled and its next submission refused with 401.

    The token hash stays, so the gateway can still tell the real agent (and only it)
    why a submission left in its outbox was refused.
    """
    await _require_known(admin, agent_id)
    username = acl.agent_username(agent_id)
    await _acl(admin, "SETUSER", username, "off")
    await _kill_connections(admin, username)
    async with admin.pipeline(transaction=True) as pipe:
        pipe.hset(keys.agent_trust(agent_id), mapping=TrustRecord.revoked_mapping(time.time()))
        pipe.hset(keys.agent_record(agent_id), "status", Status.REVOKED)
        pipe.delete(keys.agent_heartbeat(agent_id))
        await pipe.execute()
    await save_acl(admin)


async def known_agents(admin: aioredis.Redis) -> list[str]:
    """Every provisioned agent id, sorted."""
    return sorted(as_text(m) for m in await admin.smembers(keys.ALL_AGENTS))  # type: ignore[misc]
