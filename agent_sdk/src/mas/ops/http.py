"""An HTTP server for ``/healthz``, ``/readyz`` and ``/metrics`` (plus routes a process adds).

``/healthz`` answers while the process's event loop runs (liveness); ``/readyz``
answers 200 only while every readiness check passes, else 503 with the failed
checks; ``/metrics`` is the Prometheus text format. None of them holds a secret or a
message value, and none has authentication: bind to a loopback or an operations
network address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..errors import ConfigError
from .address import parse_address
from .readiness import ReadinessReport

__all__ = ["Handler", "OpsHttpServer", "parse_address"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ReadinessCheck = Callable[[], Awaitable[ReadinessReport]]
Exposition = Callable[[], Awaitable[bytes]]


class OpsHttpServer:
    """Serves the three operations endpoints and `extra_routes` on one address."""

    def __init__(
        self,
        address: str,
        readiness: ReadinessCheck,
        exposition: Exposition,
        *,
        extra_routes: Iterable[tuple[str, Handler]] = (),
        setting: str = "http_address",
    ) -> None:
        self._host, self._port = parse_address(address, setting)
        self._readiness = readiness
        self._exposition = exposition
        self._extra_routes = list(extra_routes)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The port listened on (useful with port 0), once started."""

    async def start(self) -> None:
        """Listen; `ConfigError` when the address cannot be bound."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        for path, handler in self._extra_routes:
            app.router.add_get(path, handler)
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
        report = await self._readiness()
        return web.json_response(report.as_json(), status=200 if report.ready else 503)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        body = await self._exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
