"""MAS gateway: every message between agents is authenticated, authorized, rate-limited,
scanned, audited, signed and delivered here."""

from __future__ import annotations

from .service import GatewayService
from .settings import GatewaySettings

__all__ = ["GatewayService", "GatewaySettings"]
