"""The MAS service: registry health monitoring. Run it with ``python -m mas.service``."""

from __future__ import annotations

from .monitor import MASService, redact_url, run_service

__all__ = ["MASService", "redact_url", "run_service"]
