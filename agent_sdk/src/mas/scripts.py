"""The SDK's Lua scripts, read once from the package's ``lua/`` folder."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["lua_source"]


@cache
def lua_source(name: str) -> str:
    """Text of ``lua/<name>.lua``."""
    return resources.files("mas").joinpath("lua", f"{name}.lua").read_text("utf-8")
