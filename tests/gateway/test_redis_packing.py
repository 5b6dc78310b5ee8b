"""Commands packed by hiredis are the bytes redis-py would send, and refuse the same values."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from mas_gateway.redis_packing import use_hiredis_packing

COMMANDS: list[tuple[object, ...]] = [
    ("SET", "key", b"\x00\xff value", "é", 7, -3, 10**20, 1.5, 1e16, 0.1),
    ("SCRIPT LOAD", "return 1"),
    (b"CLIENT SETNAME", b"gw"),
    ("XADD", "s", "*", "big", b"x" * 100_000),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_packed_bytes_are_those_of_redis_py(command: tuple[object, ...]) -> None:
    client = aioredis.Redis()
    use_hiredis_packing(client)
    packed = client.connection_pool.make_connection()
    assert type(packed) is not Connection
    plain = Connection()
    assert b"".join(packed.pack_command(*command)) == b"".join(plain.pack_command(*command))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, True, object()], ids=["none", "bool", "object"])
def test_values_redis_py_refuses_are_refused(value: object) -> None:
    client = aioredis.Redis()
    use_hiredis_packing(client)
    packed = client.connection_pool.make_connection()
    with pytest.raises(DataError):
        packed.pack_command("SET", "key", value)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        Connection().pack_command("SET", "key", value)  # type: ignore[arg-type]


def test_a_client_with_another_encoding_is_left_alone() -> None:
    client = aioredis.Redis(encoding="latin-1")
    use_hiredis_packing(client)
    assert client.connection_pool.connection_class is Connection


async def test_a_packed_client_talks_to_redis(redis_client: aioredis.Redis) -> None:
    use_hiredis_packing(redis_client)
    await redis_client.set("k", "é")
    assert await redis_client.get("k") == "é".encode()
