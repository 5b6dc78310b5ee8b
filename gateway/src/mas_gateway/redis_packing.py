"""Commands packed into the Redis protocol by hiredis (C) instead of redis-py's Python loop.

redis-py's asyncio connection encodes every argument in Python; for the gateway,
whose commits carry a dozen arguments per message, that was the largest single cost
left in a batch. `use_hiredis_packing` makes a client's connections pack with
``hiredis.pack_command``, which writes the same bytes (str as UTF-8, numbers as
``repr``, bytes as they are) and refuses the same values (None, bools, other types).
It applies only with redis-py's default encoding (UTF-8, strict); otherwise the
client is left as it is.
"""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import DataError
from redis.typing import EncodableT

__all__ = ["use_hiredis_packing"]


class _HiredisPacking(AbstractConnection):
    """Mixin: `pack_command` in C."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        first = args[0]
        if isinstance(first, str):  # "SCRIPT LOAD" and the like are several words
            args = (*first.encode().split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]  # pyright: ignore[reportArgumentType]
        except TypeError as exc:
            raise DataError(f"invalid command argument: {exc}") from None


_CLASSES: dict[type[Any], type[Any]] = {}


def use_hiredis_packing(client: aioredis.Redis) -> None:
    """Make `client`'s connections (made from now on) pack commands with hiredis."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:  # a cluster client keeps one pool per node: left as it is
        return
    kwargs = pool.connection_kwargs
    if kwargs.get("encoding", "utf-8") != "utf-8" or kwargs.get("encoding_errors", "strict") != (
        "strict"
    ):
        return
    base = pool.connection_class
    if issubclass(base, _HiredisPacking):
        return
    packed = _CLASSES.get(base)
    if packed is None:
        packed = type(f"Hiredis{base.__name__}", (_HiredisPacking, base), {})
        _CLASSES[base] = packed
    pool.connection_class = packed
