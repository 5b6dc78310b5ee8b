"""The embedded server is a real Redis that the test suite and `mas demo` rely on."""

from __future__ import annotations

import pytest
import redis

from mas_gateway.embedded_redis import EmbeddedRedis


def test_embedded_server_answers_and_stops() -> None:
    server = EmbeddedRedis()
    url = server.start()
    client = redis.Redis.from_url(url)
    try:
        client.xadd("s", {"k": "v"})
        assert client.xlen("s") == 1
    finally:
        client.close()
        server.stop()
    probe = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        with pytest.raises(redis.ConnectionError):
            probe.ping()
    finally:
        probe.close()


def test_session_fixture_gives_a_clean_database(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.dbsize() == 0
        client.set("left-over", "1")
    finally:
        client.close()
