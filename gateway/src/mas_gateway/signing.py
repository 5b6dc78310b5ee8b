"""The gateway's Ed25519 signing key: load it, create it, publish its public half."""

from __future__ import annotations

import os
from pathlib import Path

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mas import crypto, keys
from mas.errors import ConfigError, SignatureError

__all__ = [
    "GatewayKey",
    "load_or_create_key",
    "load_signing_key",
    "public_key_path",
    "write_signing_key",
]


class GatewayKey:
    """A loaded signing key with its id and base64 public key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        self.key_id = crypto.key_id(private_key)
        self.public_key_b64 = crypto.public_key_to_b64(private_key)

    async def publish(self, client: aioredis.Redis) -> None:
        """Record the public key under its id so agents and auditors can verify."""
        await client.hset(keys.GATEWAY_KEYS, self.key_id, self.public_key_b64)


def write_signing_key(path: Path, key: Ed25519PrivateKey | None = None) -> GatewayKey:
    """Write a (new) private key to `path` with mode 0600; refuse to overwrite."""
    key = key or crypto.generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"signing key {path} already exists; refusing to overwrite it") from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(crypto.private_key_to_b64(key) + "\n")
    gateway_key = GatewayKey(key)
    public_key_path(path).write_text(
        f"{gateway_key.key_id} {gateway_key.public_key_b64}\n", encoding="ascii"
    )
    return gateway_key


def public_key_path(path: Path) -> Path:
    """Where the public half of the signing key at `path` is written (not secret)."""
    return path.with_name(path.name + ".pub")


def load_signing_key(path: Path) -> GatewayKey:
    """Load the key at `path`; `ConfigError` (fail closed) when missing or unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError as exc:
        raise ConfigError(
            f"gateway signing key {path} not found; "
            f"create one with `mas gateway keygen --out {path}`"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read gateway signing key {path}: {exc}") from exc
    try:
        return GatewayKey(crypto.load_private_key(text))
    except SignatureError as exc:
        raise ConfigError(f"gateway signing key {path} is not a base64 Ed25519 key") from exc


def load_or_create_key(path: Path, *, create: bool) -> GatewayKey:
    """Load the key, creating it first when `create` is set and it does not exist."""
    if create and not path.exists():
        return write_signing_key(path)
    return load_signing_key(path)
