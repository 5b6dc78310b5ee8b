"""Attach the operations endpoints to a started gateway (when ``http_address`` is set)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..audit import WitnessFile
from .health import Readiness
from .http import OpsServer
from .status import AuditStatus, system_status

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
    audit = AuditStatus(gateway.client, WitnessFile(settings.witness_path))

    async def status() -> dict[str, Any]:
        version = store.current.version if store.current is not None else None
        return await system_status(gateway.client, policy_version=version, audit=audit)

    server = OpsServer(
        settings.http_address,
        readiness,
        metrics,
        refresh,
        status=status,
        token_sha256=settings.dashboard_token_sha256,
    )
    await server.start()
    return server
