"""The one loader of Lua scripts: every package keeps its scripts in its ``lua/`` folder.

Scripts run with EVALSHA, loaded again when the server does not know their SHA:
through redis-py's ``register_script``, or, for the gateway's per-batch commit and
token-bucket calls, through ``mas_gateway.lua.pipelined`` (one pipeline per batch).
This module only reads their text.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["lua_source"]


@cache
def lua_source(package: str, name: str) -> str:
    """Text of ``<package>/lua/<name>.lua``, read once per process."""
    return resources.files(package).joinpath("lua", f"{name}.lua").read_text("utf-8")
