"""The embedded server is a real Redis that the test suite and `mas demo` rely on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from mas.errors import ConfigError
from mas_gateway.embedded_redis import (
    SERVER_RECORD,
    EmbeddedRedis,
    bundled_server_binary,
    find_server_binary,
)


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


def _fake_redis_server_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `redis-server` first on PATH that cannot start (as if another server were installed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "redis-server"
    fake.write_text("#!/bin/sh\necho 'not this server' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return fake


def test_kept_data_is_reopened_by_the_server_that_wrote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "demo"
    with EmbeddedRedis(data_dir=data) as url:
        client = redis.Redis.from_url(url)
        client.set("kept", "yes")
        client.close()
    writer = (data / SERVER_RECORD).read_text().strip()
    assert writer == bundled_server_binary()  # a new data dir: the bundled Valkey
    # A redis-server installed later (here: one that cannot even start) is not used on it.
    fake = _fake_redis_server_on_path(tmp_path, monkeypatch)
    assert find_server_binary() == str(fake)
    server = EmbeddedRedis(data_dir=data)
    assert server.binary == writer
    with server as url:
        client = redis.Redis.from_url(url)
        assert client.get("kept") == b"yes"
        client.close()


def test_kept_data_no_server_can_load_is_named_in_the_error(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    data.mkdir()
    (data / "dump.rdb").write_bytes(b"REDIS9999 not a snapshot of any server")
    with pytest.raises(ConfigError, match=r"exited at start.*may come from another server"):
        EmbeddedRedis(data_dir=data).start()
