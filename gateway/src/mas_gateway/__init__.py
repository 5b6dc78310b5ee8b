"""MAS gateway: every message between agents is authenticated, authorized, rate-limited,
scanned, audited, signed and delivered here.

The names below are imported on first use, so that a command line tool that needs
neither (``mas --help``, ``mas audit verify``) does not load spaCy and Presidio.
"""

from __future__ import annotations

import typing as _typing

from mas.lazy import lazy_attributes as _lazy_attributes

if _typing.TYPE_CHECKING:
    from .service import GatewayService
    from .settings import GatewaySettings

__all__ = ["GatewayService", "GatewaySettings"]

__getattr__ = _lazy_attributes(
    __name__, {"GatewayService": ".service", "GatewaySettings": ".settings"}
)
