"""``host:port`` addresses of the operations endpoints."""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["parse_address"]


def parse_address(address: str, setting: str = "http_address") -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; `ConfigError` names the problem."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{setting} {address!r} is not host:port (e.g. 127.0.0.1:9464)")
    return host, int(port)
