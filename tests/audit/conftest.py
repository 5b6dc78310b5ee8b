"""Fixtures for the audit tests: a gateway signing key and a checkpointer on the test Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mas import crypto
from mas_gateway.audit import AuditCheckpointer

from .helpers import GATEWAY_ID


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return crypto.generate_private_key()


@pytest.fixture
def trusted(signing_key: Ed25519PrivateKey) -> dict[str, Ed25519PublicKey]:
    """The pinned key set of an auditor who got the gateway's public key out of band."""
    return {crypto.key_id(signing_key): signing_key.public_key()}


@pytest.fixture
async def checkpointer(
    redis_client: aioredis.Redis, signing_key: Ed25519PrivateKey
) -> AuditCheckpointer:
    """A checkpointer that signs one checkpoint per 10 entries (not started)."""
    await redis_client.hset(
        "mas.gateway.keys", crypto.key_id(signing_key), crypto.public_key_to_b64(signing_key)
    )
    return AuditCheckpointer(
        redis_client, signing_key, every_n=10, every_s=60.0, gateway_id=GATEWAY_ID, max_batch=10
    )
