"""MAS gateway: every message between agents is authenticated, authorized, rate-limited,
scanned, audited, signed and delivered here.

The names below are imported on first use, so that a command line tool that needs
neither (``mas --help``, ``mas audit verify``) does not load spaCy and Presidio.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from .service import GatewayService
    from .settings import GatewaySettings

__all__ = ["GatewayService", "GatewaySettings"]

_HOMES = {"GatewayService": ".service", "GatewaySettings": ".settings"}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
