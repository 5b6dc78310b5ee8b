"""One Redis client factory for every topology: URLs, errors without passwords, ACL fan-out."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio.cluster as aiocluster

from mas import acl
from mas.errors import ConfigError
from mas.provisioning import provision_agent, revoke_agent
from mas.redis_connect import SentinelRedis, connect_redis, connect_redis_sync, parse_redis_url
from mas.urls import redact_url
from mas_gateway.embedded_ha import EmbeddedCluster, EmbeddedSentinel
from mas_gateway.principals import principal_url


def test_a_sentinel_url_names_sentinels_service_db_and_both_users() -> None:
    where = parse_redis_url(
        "redis+sentinel://agent.a:pw@10.0.0.1:26379,[::1]:26380/orders/3"
        "?sentinel_username=reader&sentinel_password=s3"
    )
    assert where.kind == "sentinel"
    assert where.nodes == (("10.0.0.1", 26379), ("::1", 26380))
    assert (where.service, where.db) == ("orders", 3)
    assert (where.username, where.password) == ("agent.a", "pw")
    assert (where.sentinel_username, where.sentinel_password) == ("reader", "s3")


def test_a_cluster_url_lists_its_seed_nodes() -> None:
    where = parse_redis_url("redis+cluster://u:p@h1:7000,h2:7001")
    assert (where.kind, where.nodes, where.username) == (
        "cluster",
        (("h1", 7000), ("h2", 7001)),
        "u",
    )
    assert parse_redis_url("rediss://h:6380/0").kind == "single"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://u:hunter2@h:26379", "/service_name"),
        ("redis+sentinel://u:hunter2@h:26379/svc/x", "/service_name"),
        ("redis+sentinel://u:hunter2@h/svc", "not host:port"),
        ("redis+sentinel://u:hunter2@h:99999/svc", "not host:port"),
        ("redis+sentinel://u:hunter2@h:1/svc?password=hunter2", "unknown query"),
        ("redis+cluster://u:hunter2@h:1/0", "no database"),
        ("rediss+sentinel://u:hunter2@h:1/svc", "TLS"),
        ("memcached://u:hunter2@h:1", "unknown scheme"),
    ],
)
def test_a_bad_url_is_refused_naming_the_problem_never_the_password(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        connect_redis(url)
    assert problem in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_redaction_covers_multi_host_urls_and_the_sentinel_password() -> None:
    url = "redis+sentinel://agent.a:pw1@h1:1,h2:2/svc?sentinel_username=r&sentinel_password=pw2"
    assert redact_url(url) == (
        "redis+sentinel://agent.a:***@h1:1,h2:2/svc?sentinel_username=r&sentinel_password=***"
    )
    assert redact_url("redis+cluster://:pw@h1:1,h2:2") == "redis+cluster://***@h1:1,h2:2"


def _user_enabled(client: redis.Redis, username: str) -> bool | None:
    """True/False: the user exists and is on/off; None: no such user on this node."""
    info = client.acl_getuser(username)
    if info is None:
        return None
    return "on" in [f.decode() if isinstance(f, bytes) else f for f in info["flags"]]  # type: ignore[index]


async def test_sentinel_client_talks_to_the_primary_and_users_reach_every_node(
    sentinel_setup: EmbeddedSentinel,
) -> None:
    admin = connect_redis(sentinel_setup.url)
    try:
        assert isinstance(admin, SentinelRedis)
        replication = await admin.info("replication")
        assert replication["role"] == "master"
        assert (await admin.connection_pool.get_master_address())[1] == sentinel_setup.data_ports[0]  # type: ignore[attr-defined]
        issued = await provision_agent(admin, "ha_agent", [])
        for port in sentinel_setup.data_ports:
            with sentinel_setup.node_admin(port) as node:
                assert _user_enabled(node, issued.redis_username) is True, port
            with redis.Redis(
                port=port, username=issued.redis_username, password=issued.redis_password
            ) as agent:
                assert agent.ping()
        await revoke_agent(admin, "ha_agent")
        for port in sentinel_setup.data_ports:
            with sentinel_setup.node_admin(port) as node:
                assert _user_enabled(node, issued.redis_username) is False, port
    finally:
        await admin.aclose()


def test_service_principals_reach_every_node_of_a_sentinel_setup(
    sentinel_setup: EmbeddedSentinel,
) -> None:
    url = principal_url(sentinel_setup.url, acl.gateway_principal())
    assert url.startswith("redis+sentinel://mas-gateway:")
    for port in sentinel_setup.data_ports:
        with sentinel_setup.node_admin(port) as node:
            assert _user_enabled(node, acl.GATEWAY_USER) is True, port
    with connect_redis_sync(url) as gateway:
        assert gateway.execute_command("ACL", "WHOAMI") == b"mas-gateway"


async def test_cluster_url_gives_the_cluster_client_and_users_reach_every_node(
    redis_cluster: EmbeddedCluster,
) -> None:
    client = connect_redis(redis_cluster.url)
    try:
        assert isinstance(client, aiocluster.RedisCluster)
        for n in range(30):  # keys in every node's slots
            await client.set(f"probe:{n}", n)
        nodes = [client.get_node_from_key(f"probe:{n}") for n in range(30)]
        assert len({node.port for node in nodes if node is not None}) == 3
    finally:
        await client.aclose()
    principal_url(redis_cluster.url, acl.service_principal())
    for port in redis_cluster.ports:
        with redis.Redis(
            port=port, username="mas-admin", password=redis_cluster.admin_password
        ) as node:
            assert _user_enabled(node, acl.SERVICE_USER) is True, port


async def test_a_replica_that_just_died_misses_a_new_user_and_nothing_fails(
    sentinel_setup: EmbeddedSentinel, caplog: pytest.LogCaptureFixture
) -> None:
    """Before the sentinels mark it down, a dead replica is still listed: it is skipped."""
    dead = sentinel_setup.data_ports[2]
    sentinel_setup.kill(dead)
    admin = connect_redis(sentinel_setup.url)
    try:
        issued = await provision_agent(admin, "ha_agent", [])
    finally:
        await admin.aclose()
    for port in sentinel_setup.data_ports[:2]:
        with sentinel_setup.node_admin(port) as node:
            assert _user_enabled(node, issued.redis_username) is True, port
    assert any(f"replica 127.0.0.1:{dead} unreachable" in r.getMessage() for r in caplog.records), (
        "the missed replica is named in a warning"
    )
    assert not any(sentinel_setup.admin_password in r.getMessage() for r in caplog.records)
