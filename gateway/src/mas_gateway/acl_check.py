"""Check, at start, that agents cannot reach the trust root: ``ACL DRYRUN`` for every agent user.

For every provisioned agent, each command of `mas.acl.forbidden_for_agent` (write
its trust record or identity, touch another agent's keys, its outbox history,
nonces, buckets, the audit log, dead letters, dangerous admin commands) must be
refused; and Redis must refuse connections without credentials. A gateway in
production mode (auto-provisioning off) refuses to start otherwise; a development
gateway logs each problem.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from mas import acl, keys
from mas.errors import ConfigError
from mas.provisioning import known_agents
from mas.redis_connect import connect_redis
from mas.redis_text import as_text
from mas.urls import without_credentials

__all__ = ["check_least_privilege", "least_privilege_problems"]

log = logging.getLogger(__name__)


_ANONYMOUS_PROBES: tuple[tuple[str, ...], ...] = (
    ("GET", "mas.acl-probe"),
    ("SUBSCRIBE", keys.agent_replies_channel(acl.PROBE_AGENT)),
    ("PSUBSCRIBE", "*"),
    ("PUBLISH", keys.SYSTEM_CHANNEL, "x"),
    ("XRANGE", keys.agent_outbox(acl.PROBE_AGENT), "-", "+"),
)
"""What no client without credentials may do, whatever else the default user allows."""


async def _anonymous_access(client: aioredis.Redis, url: str) -> str | None:
    """What a client without credentials can do (None: Redis asks for credentials)."""
    # One try: the default retry would back off for seconds on the refusal it expects.
    anonymous = connect_redis(
        without_credentials(url), socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )
    try:
        await anonymous.get("mas.acl-probe")
    except AuthenticationError:
        return None  # NOAUTH: nothing for clients without credentials
    except ResponseError:
        pass  # the default user is on, with some rights: which?
    else:
        return "reads keys"
    finally:
        await anonymous.aclose()
    async with client.pipeline(transaction=False) as pipe:
        for command in _ANONYMOUS_PROBES:
            pipe.execute_command("ACL", "DRYRUN", "default", *command)
        replies = await pipe.execute(raise_on_error=False)
    allowed = [c[0] for c, r in zip(_ANONYMOUS_PROBES, replies, strict=True) if _ok(r)]
    return f"may run {', '.join(allowed)}" if allowed else None


def _ok(reply: object) -> bool:
    return not isinstance(reply, Exception) and as_text(reply) == "OK"  # type: ignore[arg-type]


async def least_privilege_problems(client: aioredis.Redis, url: str) -> list[str]:
    """What agents or anonymous clients could do that they must not (empty: all refused)."""
    problems: list[str] = []
    try:
        anonymous = await _anonymous_access(client, url)
    except RedisError as exc:
        log.debug("anonymous probe failed: %s", exc)
    else:
        if anonymous is not None:
            problems.append(
                f"Redis accepts commands without credentials ({anonymous}): disable the "
                "default user (ACL SETUSER default off)"
            )
    agents = await known_agents(client)
    checks = [(a, cmd) for a in agents for cmd in acl.forbidden_for_agent(a)]
    if not checks:
        return problems
    async with client.pipeline(transaction=False) as pipe:
        for agent_id, command in checks:
            pipe.execute_command("ACL", "DRYRUN", acl.agent_username(agent_id), *command)
        replies = await pipe.execute(raise_on_error=False)
    missing: set[str] = set()
    for (agent_id, command), reply in zip(checks, replies, strict=True):
        if isinstance(reply, ResponseError):
            if "not found" in str(reply).lower() or "no such user" in str(reply).lower():
                missing.add(agent_id)
                continue
            raise reply
        if isinstance(reply, Exception):
            raise reply
        if as_text(reply) == "OK":
            problems.append(
                f"Redis user {acl.agent_username(agent_id)} may run: {' '.join(command[:2])}"
            )
    for agent_id in sorted(missing):
        log.warning(
            "agent %s has no Redis user (ACLs lost on a restart?); run `mas acl apply`", agent_id
        )
    return problems


async def check_least_privilege(client: aioredis.Redis, url: str, *, strict: bool) -> None:
    """Refuse (strict) or warn when agents or anonymous clients can reach the trust root."""
    problems = await least_privilege_problems(client, url)
    if not problems:
        log.info("least privilege checked: agents cannot write the trust root")
        return
    summary = f"{len(problems)} least-privilege problem(s): " + "; ".join(problems[:5])
    if strict:
        raise ConfigError(f"refusing to start in production mode: {summary}")
    for problem in problems:
        log.warning("least privilege: %s (development mode: starting anyway)", problem)
