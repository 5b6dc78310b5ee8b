"""Attach the operations endpoints to a started gateway (when ``http_address`` is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .health import Readiness
from .http import OpsServer

if TYPE_CHECKING:
    from ..service import GatewayService

__all__ = ["start_ops_server"]


async def start_ops_server(gateway: GatewayService) -> OpsServer | None:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` for `gateway`; None when not configured."""
    settings = gateway.settings
    if settings.http_address is None:
        return None
    store = gateway.policy
    assert store is not None, "the gateway is started"
    metrics = gateway.metrics

    async def refresh() -> None:
        metrics.up.set(0 if gateway.watchdog.failure else 1)
        if store.current is not None:
            metrics.set_policy(store.current.version)
        await metrics.refresh(gateway.client, gateway.outboxes)

    readiness = Readiness(
        gateway.client, gateway.watchdog, gateway.progress, store, stall_s=settings.ready_stall_s
    )
    server = OpsServer(settings.http_address, readiness, metrics, refresh)
    await server.start()
    return server
