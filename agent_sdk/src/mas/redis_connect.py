"""Every Redis client of MAS, from one URL: one node, a Sentinel-managed primary, or a cluster.

The URL is the one setting every MAS process already takes (``MAS_REDIS_URL``,
``--redis-url``), so its scheme alone selects the topology:

- ``redis://``, ``rediss://``, ``unix://`` — one server (redis-py's own URL grammar).
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`` — the
  primary of Sentinel service ``service``, found through the listed sentinels and
  followed through a failover (redis-py's Sentinel-managed pool asks the sentinels
  again on a lost connection or a ``READONLY`` reply). The credentials are those of
  the data nodes; the sentinels' own user goes in the query
  (``?sentinel_username=U&sentinel_password=P``), since a sentinel's users are not
  the data nodes' users.
- ``redis+cluster://[user:password@]host:port[,host:port...]`` — a Redis Cluster,
  through redis-py's cluster client, seeded by the listed nodes. Not every MAS
  operation is cluster-safe yet (ARCHITECTURE.md, "High availability").

TLS (``rediss+sentinel``, ``rediss+cluster``) is not offered yet and is refused
with a clear error rather than silently run in plain text.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.asyncio.sentinel as aiosentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.connection import SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import ConfigError
from .urls import redact_url

__all__ = [
    "RedisLocation",
    "SentinelRedis",
    "SyncSentinelRedis",
    "cluster_twin",
    "connect_redis",
    "connect_redis_sync",
    "connection_options",
    "for_each_node",
    "for_each_node_sync",
    "is_cluster",
    "parse_redis_url",
]

log = logging.getLogger(__name__)

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
_SINGLE_SCHEMES = ("redis", "rediss", "unix")
_SENTINEL_QUERY = ("sentinel_username", "sentinel_password")


@dataclass(frozen=True)
class RedisLocation:
    """Where a Redis URL points: its topology, nodes, credentials and database."""

    kind: str
    """``single``, ``sentinel`` or ``cluster``."""
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    """Sentinels (``sentinel``) or seed nodes (``cluster``); empty for ``single``."""
    service: str = ""
    """The Sentinel service name (``sentinel`` only)."""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)


def _bad(url: str, problem: str) -> ConfigError:
    return ConfigError(f"invalid Redis URL {redact_url(url)}: {problem}")


def _nodes(url: str, netloc: str) -> tuple[tuple[str, int], ...]:
    hosts = netloc.rpartition("@")[2]
    nodes: list[tuple[str, int]] = []
    for part in hosts.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad(url, f"node {part!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def _credentials(netloc: str) -> tuple[str | None, str | None]:
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None, None
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def parse_redis_url(url: str) -> RedisLocation:
    """Parse a MAS Redis URL (see the module docstring); `ConfigError` names what is wrong."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in _SINGLE_SCHEMES:
        return RedisLocation(kind="single", url=url)
    if scheme in (f"rediss+{k}" for k in ("sentinel", "cluster")):
        raise _bad(url, f"TLS with Sentinel or Cluster ({scheme}://) is not supported yet")
    if scheme not in (SENTINEL_SCHEME, CLUSTER_SCHEME):
        raise _bad(
            url,
            f"unknown scheme {scheme!r}: use redis://, rediss://, unix://, "
            f"{SENTINEL_SCHEME}:// or {CLUSTER_SCHEME}://",
        )
    username, password = _credentials(parts.netloc)
    query = dict(parse_qsl(parts.query))
    unknown = sorted(set(query) - set(_SENTINEL_QUERY))
    if unknown or (scheme == CLUSTER_SCHEME and query):
        raise _bad(url, f"unknown query parameter(s): {', '.join(unknown or sorted(query))}")
    nodes = _nodes(url, parts.netloc)
    path = [p for p in parts.path.split("/") if p]
    if scheme == CLUSTER_SCHEME:
        if path:
            raise _bad(url, "a cluster has no database number or service name in its path")
        return RedisLocation(
            kind="cluster", url=url, nodes=nodes, username=username, password=password
        )
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise _bad(url, "the path must be /service_name or /service_name/db")
    return RedisLocation(
        kind="sentinel",
        url=url,
        nodes=nodes,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=username,
        password=password,
        sentinel_username=query.get("sentinel_username"),
        sentinel_password=query.get("sentinel_password"),
    )


def _sentinel_kwargs(where: RedisLocation, options: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in options.items() if k.startswith("socket_")}
    if where.sentinel_username is not None:
        kwargs["username"] = where.sentinel_username
    if where.sentinel_password is not None:
        kwargs["password"] = where.sentinel_password
    return kwargs


def _node_kwargs(where: RedisLocation, options: dict[str, Any]) -> dict[str, Any]:
    return {"username": where.username, "password": where.password, **options}


class _PrimaryConnection(aiosentinel.SentinelManagedConnection):
    """A connection to the Sentinel-managed primary that asks the sentinels again on reconnect.

    redis-py's own reconnects a connection a client holds (a single-connection
    client, such as the SDK's blocking reader) to the address it had before, so
    after a failover it would knock on the dead primary's port forever.
    """

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()  # resolves the primary's address through the sentinels
        await super().send_packed_command(command, check_health)


class _SyncPrimaryConnection(redis.sentinel.SentinelManagedConnection):
    """The synchronous twin of `_PrimaryConnection`."""

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self._sock:
            self.connect()
        super().send_packed_command(command, check_health)


class SentinelRedis(aioredis.Redis):
    """The Sentinel-managed primary's client; closing it also closes its sentinel clients."""

    sentinel_manager: aiosentinel.Sentinel
    service_name: str

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            await self.sentinel_manager.aclose()


class SyncSentinelRedis(redis.Redis):
    """The synchronous twin of `SentinelRedis`."""

    sentinel_manager: redis.sentinel.Sentinel
    service_name: str

    def close(self) -> None:
        try:
            super().close()
        finally:
            for sentinel in self.sentinel_manager.sentinels:
                sentinel.close()


def is_cluster(client: object) -> bool:
    """True for redis-py's cluster clients (asyncio or not), which route each command by slot."""
    return isinstance(client, aiocluster.RedisCluster | redis.cluster.RedisCluster)


def connection_options(client: aioredis.Redis) -> dict[str, Any]:
    """The connection options (user, timeouts, ...) of a single-node or cluster client."""
    return dict(client.get_connection_kwargs())


def cluster_twin(client: aioredis.Redis, **overrides: Any) -> aioredis.Redis:
    """A new cluster client on the same seed nodes and user as `client`, with `overrides`
    (e.g. ``retry``) applied; it has its own connections."""
    cluster = cast(aiocluster.RedisCluster, client)
    accepted = inspect.signature(aiocluster.RedisCluster.__init__).parameters
    options = {k: v for k, v in cluster.get_connection_kwargs().items() if k in accepted}
    connection_class = cluster.get_connection_kwargs().get("connection_class")
    if isinstance(connection_class, type) and issubclass(connection_class, SSLConnection):
        options["ssl"] = True
    nodes = [aiocluster.ClusterNode(n.host, n.port) for n in cluster.startup_nodes]
    twin = aiocluster.RedisCluster(startup_nodes=nodes, **{**options, **overrides})
    return cast(aioredis.Redis, twin)


def connect_redis(url: str, **options: Any) -> aioredis.Redis:
    """An asyncio client for `url`; `options` are redis-py connection options.

    A cluster URL gives redis-py's `RedisCluster`, typed as `Redis`: it has the same
    command methods; MAS keeps every transaction and script within one slot.
    """
    where = parse_redis_url(url)
    if where.kind == "single":
        return aioredis.Redis.from_url(url, **options)
    if where.kind == "cluster":
        options.pop("retry", None)  # the cluster client has its own retry policy
        cluster = aiocluster.RedisCluster(
            startup_nodes=[aiocluster.ClusterNode(h, p) for h, p in where.nodes],
            **_node_kwargs(where, options),
        )
        return cast(aioredis.Redis, cluster)
    manager = aiosentinel.Sentinel(
        list(where.nodes), sentinel_kwargs=_sentinel_kwargs(where, options)
    )
    client = cast(
        SentinelRedis,
        manager.master_for(
            where.service,
            redis_class=SentinelRedis,
            connection_class=_PrimaryConnection,
            db=where.db,
            **_node_kwargs(where, options),
        ),
    )
    client.sentinel_manager = manager
    client.service_name = where.service
    return client


def connect_redis_sync(url: str, **options: Any) -> redis.Redis:
    """A synchronous client for `url` (see `connect_redis`)."""
    where = parse_redis_url(url)
    if where.kind == "single":
        return redis.Redis.from_url(url, **options)
    if where.kind == "cluster":
        options.pop("retry", None)
        cluster = redis.cluster.RedisCluster(
            startup_nodes=[redis.cluster.ClusterNode(h, p) for h, p in where.nodes],
            **_node_kwargs(where, options),
        )
        return cast(redis.Redis, cluster)
    manager = redis.sentinel.Sentinel(
        list(where.nodes), sentinel_kwargs=_sentinel_kwargs(where, options)
    )
    client = cast(
        SyncSentinelRedis,
        manager.master_for(
            where.service,
            redis_class=SyncSentinelRedis,
            connection_class=_SyncPrimaryConnection,
            db=where.db,
            **_node_kwargs(where, options),
        ),
    )
    client.sentinel_manager = manager
    client.service_name = where.service
    return client


_NODE_OPTIONS = ("username", "password", "db", "socket_timeout", "socket_connect_timeout")


def _node_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in _NODE_OPTIONS}


async def _other_nodes(client: aioredis.Redis) -> list[aioredis.Redis]:
    """Clients on the nodes besides `client`'s primary: Sentinel's replicas, or every
    cluster node (the cluster client itself is not used: it sends ``ACL`` to one node)."""
    if isinstance(client, SentinelRedis):
        options = _node_options(client.connection_pool.connection_kwargs)
        replicas = await client.sentinel_manager.discover_replicas(client.service_name)
        return [aioredis.Redis(host=str(h), port=int(p), **options) for h, p in replicas]
    if isinstance(client, aiocluster.RedisCluster):
        await client.initialize()  # learn every node, not only the seeds
        return [
            aioredis.Redis(host=n.host, port=int(n.port), **_node_options(n.connection_kwargs))
            for n in client.get_nodes()
        ]
    return []


async def for_each_node(
    client: aioredis.Redis, run: Callable[[aioredis.Redis], Awaitable[object]]
) -> None:
    """Run `run` on every data node: what Redis does not replicate (ACL users, connections).

    A single node gets `client`; a Sentinel set-up the primary and every replica the
    sentinels report alive; a cluster each node. A replica that cannot be reached
    (down, not yet marked so by the sentinels) is skipped with a warning: it misses the
    change; see ARCHITECTURE.md "High availability". Any other failure raises.
    """
    others = await _other_nodes(client)
    try:
        if not isinstance(client, aiocluster.RedisCluster):
            await run(client)
        for node in others:
            try:
                await run(node)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if not isinstance(client, SentinelRedis):
                    raise
                _warn_missed(node.connection_pool.connection_kwargs, exc)
    finally:
        for node in others:
            await node.aclose()


def for_each_node_sync(client: redis.Redis, run: Callable[[redis.Redis], object]) -> None:
    """The synchronous twin of `for_each_node`."""
    if isinstance(client, redis.cluster.RedisCluster):
        for node in client.get_nodes():
            assert node.redis_connection is not None
            run(node.redis_connection)
        return
    run(client)
    if not isinstance(client, SyncSentinelRedis):
        return
    options = _node_options(client.connection_pool.connection_kwargs)
    for host, port in client.sentinel_manager.discover_replicas(client.service_name):
        with redis.Redis(host=str(host), port=int(port), **options) as replica:
            try:
                run(replica)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                _warn_missed(replica.connection_pool.connection_kwargs, exc)


def _warn_missed(node: Mapping[str, Any], exc: BaseException) -> None:
    log.warning(
        "replica %s:%s unreachable (%s): it misses this change to users; run `mas acl apply` "
        "once it is back",
        node.get("host"),
        node.get("port"),
        type(exc).__name__,
    )
