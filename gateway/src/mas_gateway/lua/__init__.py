"""Lua scripts run by the gateway, loaded by name."""

from __future__ import annotations

from importlib.resources import files

__all__ = ["load_script"]


def load_script(name: str) -> str:
    """Source of ``<name>.lua`` shipped in this package."""
    return files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
