"""Lua scripts run by the gateway, loaded by name (through `mas.scripts`)."""

from __future__ import annotations

from mas.scripts import lua_source

__all__ = ["load_script"]


def load_script(name: str) -> str:
    """Source of ``<name>.lua`` shipped in this package."""
    return lua_source("mas_gateway", name)
