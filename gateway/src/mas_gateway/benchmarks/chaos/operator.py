"""What an operator does before the first start, done with the code behind the ``mas`` commands.

``mas gateway keygen``, ``mas acl apply --out-dir`` (the gateway's own Redis user) and
``mas agent provision`` for the sender and the receiver (credential files pinning
the gateway key), on a copy of the repository's policies with a high-volume route.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from mas import acl
from mas.credentials import Credentials
from mas.provisioning import create_principal, generate_password, provision_agent
from mas.redis_connect import connect_redis
from mas.urls import with_credentials

from ...settings import default_policies_dir
from ...signing import write_signing_key
from ..policies import BULK_RECEIVER, BULK_SENDER, bulk_policies

__all__ = ["Provisioned", "provision"]


@dataclass(frozen=True)
class Provisioned:
    """Files and URLs the processes of a chaos stack start with."""

    policies: Path
    signing_key: Path
    gateway_url: str
    sender_credentials: Path
    receiver_credentials: Path


async def _provision(admin_url: str, work: Path) -> Provisioned:
    policies = bulk_policies(default_policies_dir(), work / "policies")
    key_path = work / "gateway_signing_key"
    key = write_signing_key(key_path)
    pinned = {key.key_id: key.public_key_b64}
    admin = connect_redis(admin_url)
    try:
        password = generate_password()
        principal = acl.gateway_principal()
        await create_principal(admin, principal, password)
        gateway_url = with_credentials(admin_url, principal.username, password)
        files: list[Path] = []
        for agent_id in (BULK_SENDER, BULK_RECEIVER):
            issued = await provision_agent(admin, agent_id, [])
            creds = Credentials.from_issued(issued, pinned)
            path = work / "credentials" / f"{agent_id}.json"
            creds.save(path)
            files.append(path)
    finally:
        await admin.aclose()
    return Provisioned(policies, key_path, gateway_url, files[0], files[1])


def provision(admin_url: str, work: Path) -> Provisioned:
    """Provision the stack's gateway and agents through the administrator's URL."""
    return asyncio.run(_provision(admin_url, work))
