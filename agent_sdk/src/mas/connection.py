"""Connect an agent to Redis as its own, least-privileged user.

The credential file names the agent's Redis user and password; any credentials in
the Redis URL are replaced by them, so an agent never runs with more rights than
its own. The client has a socket timeout (`AgentOptions.socket_timeout`), so that no
command waits forever on a server that stopped answering. Only in development
(``auto_provision``), and only when the URL carries the operator's credentials, does
an agent without a credential file have one issued first, through the same code
path as ``mas agent provision``.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError

from . import keys
from .credentials import PROVISION_HINT, Credentials, default_credentials_dir, find_credentials
from .errors import ConfigError, CredentialsError
from .options import AgentOptions, check_block_below_timeout
from .provisioning import provision_agent
from .quickwrite import quick_write_options
from .records import Identity, Provisioner
from .redis_connect import connect_redis, connection_options
from .urls import redact_url, with_credentials

__all__ = ["check_socket_timeout", "connect_agent", "reconnect_once"]

log = logging.getLogger(__name__)


async def connect_agent(
    agent_id: str, options: AgentOptions, redis_url: str
) -> tuple[aioredis.Redis, Credentials]:
    """A client connected as the agent's own user, and its checked credentials.

    Raises:
        CredentialsError: no credentials and provisioning is off, Redis refuses them,
            or the registry holds another key for the agent.
    """
    creds, looked = find_credentials(agent_id, options)
    if creds is None:
        if not options.provisioning_allowed:
            raise CredentialsError(
                f"no credentials for agent {agent_id!r}; looked in: {', '.join(looked)}. "
                f"Create them with `{PROVISION_HINT.format(agent_id=agent_id)}` and pass the "
                f"file (credentials=PATH, MAS_CREDENTIALS or MAS_CREDENTIALS_DIR), or set "
                f"MAS_AUTO_PROVISION=1 with an operator Redis URL for development"
            )
        creds = await _auto_provision(agent_id, options, redis_url)
    client = _agent_client(redis_url, creds, options)
    try:
        check_socket_timeout(client, options)
    except ValueError as exc:
        await client.aclose()
        raise ConfigError(str(exc)) from exc
    try:
        try:
            identity = Identity.from_hash(await client.hgetall(keys.agent_identity(agent_id)))
        except AuthenticationError:
            if not (options.provisioning_allowed and await _unknown_here(agent_id, redis_url)):
                raise
            # development: the file belongs to another (e.g. restarted) Redis, which this
            # one has never heard of; issue new credentials as for an agent without a file
            await client.aclose()
            log.warning(
                "agent %s: Redis at %s has no record of the agent in %s (a file from another "
                "server?); issuing new development credentials",
                agent_id,
                redact_url(redis_url),
                creds.path or "memory",
            )
            creds = await _auto_provision(agent_id, options, redis_url)
            client = _agent_client(redis_url, creds, options)
            identity = Identity.from_hash(await client.hgetall(keys.agent_identity(agent_id)))
    except AuthenticationError as exc:
        await client.aclose()
        raise CredentialsError(
            f"Redis at {redact_url(redis_url)} refused the credentials of agent {agent_id!r} "
            f"in {creds.path or 'memory'} (revoked or rotated?): use the file `mas agent "
            f"rotate-token` wrote, or issue new credentials with "
            f"`{PROVISION_HINT.format(agent_id=agent_id)} --replace-key`"
        ) from exc
    except BaseException:
        await client.aclose()
        raise
    where = str(creds.path) if creds.path else "memory"
    problem = None
    if identity is None:
        problem = f"agent {agent_id!r} has no key in the registry"
    elif identity.public_key != creds.public_key:
        problem = f"the registry holds a different key for agent {agent_id!r} than {where}"
    if problem is not None:
        await client.aclose()
        raise CredentialsError(
            f"{problem}; pass that agent's credential file or issue a new one with "
            f"`{PROVISION_HINT.format(agent_id=agent_id)} --replace-key`"
        )
    return client, creds


def _agent_client(redis_url: str, creds: Credentials, options: AgentOptions) -> aioredis.Redis:
    url = with_credentials(redis_url, creds.redis_username, creds.redis_password)
    return connect_redis(
        url,
        **quick_write_options(url),
        socket_timeout=options.socket_timeout,
        socket_connect_timeout=options.socket_timeout,
        retry=reconnect_once(),
    )


async def _unknown_here(agent_id: str, redis_url: str) -> bool:
    """Whether the registry at `redis_url` (read with the URL's own rights) has never
    provisioned `agent_id`; False when that cannot be read."""
    admin = connect_redis(redis_url)
    try:
        known = await admin.exists(keys.agent_identity(agent_id), keys.agent_trust(agent_id))
        listed = await admin.sismember(keys.ALL_AGENTS, agent_id)  # type: ignore[misc]
    except (RedisError, OSError):
        return False
    finally:
        await admin.aclose()
    return int(known) == 0 and not listed


def reconnect_once() -> Retry:
    """redis-py's retry policy for agents: one immediate retry on a lost connection.

    That mends a pooled connection the server closed. After a timeout nothing is
    resent blindly (the command may have run); longer outages are the SDK's to
    handle, with backoff and one log line per outage (`mas.outage`).
    """
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def check_socket_timeout(client: aioredis.Redis, options: AgentOptions) -> None:
    """`ValueError` when the client's socket timeout (the option, or the URL's) is at or below
    the blocking read's `block_ms`: every read would then fail."""
    timeout = connection_options(client).get("socket_timeout")
    source = "the Redis URL" if timeout != options.socket_timeout else "socket_timeout"
    check_block_below_timeout(options.block_ms, timeout, source)


async def _auto_provision(agent_id: str, options: AgentOptions, redis_url: str) -> Credentials:
    """Issue credentials with the operator rights the URL carries (development only)."""
    admin = connect_redis(redis_url)
    try:
        issued = await provision_agent(admin, agent_id, [], provisioned_by=Provisioner.AUTO)
    except ConfigError as exc:
        raise CredentialsError(
            f"cannot auto-provision agent {agent_id!r}: {exc}; pass its credential file"
        ) from exc
    except (AuthenticationError, NoPermissionError) as exc:
        raise CredentialsError(
            f"cannot auto-provision agent {agent_id!r}: the Redis URL "
            f"{redact_url(redis_url)} does not carry operator rights ({exc}); provision it "
            f"with `{PROVISION_HINT.format(agent_id=agent_id)}` instead"
        ) from exc
    finally:
        await admin.aclose()
    creds = Credentials.from_issued(issued, {})  # pinned on first use, see `mas.trust`
    target = default_credentials_dir(options) / f"{agent_id}.json"
    log.info("agent %s: development credentials issued into %s", agent_id, target)
    return creds.save(target)
