"""GatewayTrust: which gateway signing keys an agent accepts deliveries from.

Keys are pinned by configuration (option ``gateway_public_key`` or env
``MAS_GATEWAY_PUBLIC_KEY``, comma-separated) or by the credential file. Only when
nothing is pinned and auto-provisioning is on does the agent trust on first use:
it reads the gateway keys published in Redis once and pins them into its
credential file. After that, unknown key ids are never trusted.
"""

from __future__ import annotations

import logging
import os

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import crypto, keys
from .credentials import Credentials
from .errors import ConfigError, SignatureError
from .redis_text import as_text

__all__ = ["GatewayTrust"]

logger = logging.getLogger(__name__)


def _configured_keys(option: str | None) -> dict[str, Ed25519PublicKey]:
    text = option if option is not None else os.environ.get("MAS_GATEWAY_PUBLIC_KEY", "")
    pinned: dict[str, Ed25519PublicKey] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            key = crypto.load_public_key(part)
        except SignatureError as exc:
            raise ConfigError(f"gateway public key is not a base64 Ed25519 key: {exc}") from exc
        pinned[crypto.key_id(key)] = key
    return pinned


class GatewayTrust:
    """The set of trusted gateway keys, with one-time trust on first use when allowed."""

    def __init__(
        self,
        redis: aioredis.Redis,
        credentials: Credentials,
        *,
        configured_key: str | None,
        trust_on_first_use: bool,
    ) -> None:
        self._redis = redis
        self.credentials = credentials
        self._keys = _configured_keys(configured_key)
        for kid, value in credentials.gateway_keys.items():
            self._keys[kid] = crypto.load_public_key(value)
        self._tofu = trust_on_first_use and not self._keys

    @property
    def keys(self) -> dict[str, Ed25519PublicKey]:
        """Trusted key id -> public key."""
        return self._keys

    async def refresh_if_unpinned(self) -> None:
        """Pin the gateway keys published in Redis if nothing is pinned yet and TOFU is allowed."""
        if not self._tofu:
            return
        published = await self._redis.hgetall(keys.GATEWAY_KEYS)
        pinned: dict[str, str] = {}
        for raw_kid, raw_value in published.items():
            kid, value = as_text(raw_kid), as_text(raw_value)
            try:
                self._keys[kid] = crypto.load_public_key(value)
            except SignatureError:
                logger.warning("ignoring malformed gateway key %s published in Redis", kid)
                continue
            pinned[kid] = value
        if not pinned:
            return
        self._tofu = False
        creds = self.credentials.with_gateway_keys(pinned)
        if creds.path is not None:
            creds = creds.save(creds.path)
        self.credentials = creds
        logger.info(
            "agent %s now trusts gateway key(s) %s (trust on first use)",
            creds.agent_id,
            ", ".join(sorted(pinned)),
        )

    async def keys_for(self, key_id: str) -> dict[str, Ed25519PublicKey]:
        """Trusted keys, after a first-use refresh if `key_id` is unknown and TOFU is pending."""
        if key_id not in self._keys:
            await self.refresh_if_unpinned()
        return self._keys
