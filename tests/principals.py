"""Redis users of the gateway and the MAS service for the test server, made once per session."""

from __future__ import annotations

from functools import cache

from mas import acl
from mas_gateway.principals import principal_url


@cache
def gateway_url(admin_url: str) -> str:
    """URL that logs in as the gateway's own user (ACL users survive FLUSHALL)."""
    return principal_url(admin_url, acl.gateway_principal())


@cache
def service_url(admin_url: str) -> str:
    """URL that logs in as the MAS service's own user."""
    return principal_url(admin_url, acl.service_principal())
