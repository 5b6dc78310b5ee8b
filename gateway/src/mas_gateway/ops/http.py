"""The gateway's HTTP endpoints: ``/healthz``, ``/readyz``, ``/metrics`` and the dashboard.

``/healthz`` answers while the process's event loop runs (liveness); ``/readyz``
answers 200 only while the gateway can do its job (see `health.Readiness`), else
503 with the failed checks; ``/metrics`` is the Prometheus text format. None of
them holds a secret or a message value. Bind to a loopback or an operations
network address (``http_address``): these three have no authentication.

``/dashboard`` is a page without data; its script reads ``/api/status`` with the
operator token from the page's URL fragment (``/dashboard#token=...``: a fragment
is never sent to a server or written to its logs) as a bearer token. The gateway
keeps only the token's SHA-256 (``dashboard_token_sha256``); without one the
dashboard is off.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from mas import crypto
from mas.ops.http import OpsHttpServer, parse_address

from .health import Readiness
from .metrics import GatewayMetrics

__all__ = ["OpsServer", "parse_address"]

log = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[None]]
Status = Callable[[], Awaitable[dict[str, Any]]]

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class OpsServer(OpsHttpServer):
    """The SDK's operations server (see `mas.ops.http`) plus the dashboard routes."""

    def __init__(
        self,
        address: str,
        readiness: Readiness,
        metrics: GatewayMetrics,
        refresh: Refresh,
        *,
        status: Status | None = None,
        token_sha256: str | None = None,
    ) -> None:
        self._metrics = metrics
        self._refresh = refresh
        self._status = status
        self._token_sha256 = token_sha256
        super().__init__(
            address,
            readiness.check,
            self._exposition_body,
            extra_routes=[("/dashboard", self._dashboard), ("/api/status", self._api_status)],
        )

    async def _exposition_body(self) -> bytes:
        try:
            await self._refresh()
        except Exception as exc:  # the counters are still worth serving
            log.warning(
                "metrics: could not read the queue gauges from Redis (%s)", type(exc).__name__
            )
        return self._metrics.exposition()

    async def _dashboard(self, request: web.Request) -> web.Response:
        if self._status is None or self._token_sha256 is None:
            return _dashboard_off()
        page = (
            importlib.resources.files("mas_gateway.ops")
            .joinpath("dashboard.html")
            .read_text("utf-8")
        )
        return web.Response(text=page, content_type="text/html", headers=_PAGE_HEADERS)

    async def _api_status(self, request: web.Request) -> web.Response:
        if self._status is None or self._token_sha256 is None:
            return _dashboard_off()
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not crypto.token_matches(token, self._token_sha256):
            return web.json_response(
                {"error": "operator token missing or wrong"},
                status=401,
                headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
            )
        return web.json_response(await self._status(), headers={"Cache-Control": "no-store"})


def _dashboard_off() -> web.Response:
    return web.json_response(
        {"error": "the dashboard is off: set dashboard_token_sha256 (mas gateway dashboard-token)"},
        status=404,
    )
