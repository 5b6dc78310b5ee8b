"""A complete local MAS for demos and examples: Redis, the MAS service and a gateway.

Uses the configured Redis (``MAS_REDIS_URL``, with administrator credentials) when
there is one, else starts an embedded server with ACLs on. The gateway and the MAS
service connect as their own Redis users; each agent has its credentials issued on
first start (development auto-provisioning through the administrator URL) and then
connects as its own least-privileged user. Keys and credential files live in a
temporary directory removed on exit. Not for production: there, agents are
provisioned by an operator and the gateway runs with ``mas gateway``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from mas import MASService

from .embedded_redis import EmbeddedRedis
from .principals import setup_principals
from .service import GatewayService
from .settings import WITNESS_NAME, GatewaySettings, default_policies_dir

__all__ = ["DevStack"]


class DevStack:
    """`async with DevStack() as stack:` runs Redis (if needed), MASService and a gateway."""

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        policies_dir: Path | None = None,
        gateway_overrides: dict[str, Any] | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self._configured_url = redis_url or os.environ.get("MAS_REDIS_URL")
        self._policies_dir = policies_dir or default_policies_dir()
        self._overrides = gateway_overrides or {}
        self._data_dir = data_dir
        """Where an embedded Redis keeps its snapshot (None: nothing is kept)."""
        self._stack = contextlib.AsyncExitStack()
        self.redis_url = ""
        self.embedded = False
        self.workdir = Path()
        self.gateway: GatewayService | None = None
        self.service: MASService | None = None

    def agent_options(self) -> dict[str, Any]:
        """Keyword arguments that connect an `Agent` to this stack."""
        return {
            "redis_url": self.redis_url,
            "auto_provision": True,
            "credentials_dir": str(self.workdir / "credentials"),
        }

    async def __aenter__(self) -> DevStack:
        try:
            tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="mas-dev-"))
            self.workdir = Path(tmp)
            if self._configured_url:
                self.redis_url = self._configured_url
            else:
                embedded = EmbeddedRedis(data_dir=self._data_dir)
                self.redis_url = self._stack.enter_context(embedded)
                self.embedded = True
            gateway_url, service_url = setup_principals(self.redis_url)
            self.service = MASService(redis_url=service_url)
            await self.service.start()
            self._stack.push_async_callback(self.service.stop)
            settings = GatewaySettings(
                redis_url=gateway_url,
                policies_dir=self._policies_dir,
                signing_key_path=self.workdir / "gateway_signing_key",
                audit_witness_path=(self._data_dir or self.workdir) / WITNESS_NAME,
                auto_provision=True,
                **{"dlp_workers": 0, **self._overrides},  # low volume: scan in-process
            )
            self.gateway = GatewayService(settings)
            await self.gateway.start()
            self._stack.push_async_callback(self.gateway.stop)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
