"""The SDK's Lua scripts, loaded once from the package's ``lua/`` folder."""

from __future__ import annotations

from functools import cache
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

__all__ = ["Scripts", "lua_source"]


@cache
def lua_source(name: str) -> str:
    """Text of ``lua/<name>.lua``."""
    return resources.files("mas").joinpath("lua", f"{name}.lua").read_text("utf-8")


class Scripts:
    """Registered scripts bound to one client (EVALSHA with automatic reload)."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.register: AsyncScript = redis.register_script(lua_source("register"))
        self.heartbeat: AsyncScript = redis.register_script(lua_source("heartbeat"))
        self.deregister: AsyncScript = redis.register_script(lua_source("deregister"))
        self.mark_inactive: AsyncScript = redis.register_script(lua_source("mark_inactive"))
        self.provision: AsyncScript = redis.register_script(lua_source("provision"))
