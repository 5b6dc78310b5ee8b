"""Create the Redis users of the gateway and the MAS service, and the URLs they connect with."""

from __future__ import annotations

from mas import acl
from mas.provisioning import generate_password
from mas.redis_connect import connect_redis_sync, for_each_node_sync
from mas.urls import with_credentials

__all__ = ["principal_url", "setup_principals"]


def principal_url(admin_url: str, principal: acl.Principal) -> str:
    """Create or update `principal`'s user, add a fresh password; a URL that logs in as it.

    Passwords given out earlier keep working (several local stacks may share one server).
    """
    password = generate_password()
    words = ("ACL", "SETUSER", principal.username, *principal.setuser_rules(), f">{password}")
    with connect_redis_sync(admin_url) as admin:
        # Redis does not replicate users: every data node gets it.
        for_each_node_sync(admin, lambda node: node.execute_command(*words))
    return with_credentials(admin_url, principal.username, password)


def setup_principals(admin_url: str) -> tuple[str, str]:
    """URLs of the gateway's and the MAS service's own users (created through `admin_url`)."""
    return (
        principal_url(admin_url, acl.gateway_principal()),
        principal_url(admin_url, acl.service_principal()),
    )
