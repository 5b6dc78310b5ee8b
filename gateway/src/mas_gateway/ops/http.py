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
from prometheus_client import CONTENT_TYPE_LATEST

from mas import crypto
from mas.errors import ConfigError

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


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; `ConfigError` names the problem."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"http_address {address!r} is not host:port (e.g. 127.0.0.1:9464)")
    return host, int(port)


class OpsServer:
    """Serves the endpoints on one address."""

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
        self._host, self._port = parse_address(address)
        self._readiness = readiness
        self._metrics = metrics
        self._refresh = refresh
        self._status = status
        self._token_sha256 = token_sha256
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The port listened on (useful with port 0), once started."""

    async def start(self) -> None:
        """Listen; `ConfigError` when the address cannot be bound."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/dashboard", self._dashboard)
        app.router.add_get("/api/status", self._api_status)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot listen on {self._host}:{self._port}: {exc.strerror}"
            ) from exc
        self._runner = runner
        bound = runner.addresses
        self.port = int(bound[0][1]) if bound else self._port
        log.info(
            "operations endpoints on http://%s:%d (/healthz /readyz /metrics)",
            self._host,
            self.port,
        )

    async def stop(self) -> None:
        """Stop listening."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        report = await self._readiness.check()
        return web.json_response(report.as_json(), status=200 if report.ready else 503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        try:
            await self._refresh()
        except Exception as exc:  # the counters are still worth serving
            log.warning(
                "metrics: could not read the queue gauges from Redis (%s)", type(exc).__name__
            )
        body = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

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
