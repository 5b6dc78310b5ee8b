"""Ed25519 keys, signatures and token hashing shared by agents and the gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from .errors import SignatureError

__all__ = [
    "b64decode",
    "b64encode",
    "generate_private_key",
    "generate_token",
    "hash_token",
    "key_id",
    "load_private_key",
    "load_public_key",
    "private_key_to_b64",
    "public_key_to_b64",
    "sign",
    "token_matches",
    "verify",
]


def b64encode(data: bytes) -> str:
    """Standard base64 text of `data`."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | bytes) -> bytes:
    """Decode strict base64; raise `SignatureError` on garbage."""
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise SignatureError("value is not valid base64") from exc


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def private_key_to_b64(key: Ed25519PrivateKey) -> str:
    """Raw 32-byte private key as base64."""
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return b64encode(raw)


def public_key_to_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Raw 32-byte public key as base64."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def load_private_key(text: str) -> Ed25519PrivateKey:
    """Private key from base64 raw bytes; `SignatureError` if it is not one."""
    raw = b64decode(text)
    if len(raw) != 32:
        raise SignatureError("an Ed25519 private key is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Public key from base64 raw bytes; `SignatureError` if it is not one."""
    raw = b64decode(text)
    if len(raw) != 32:
        raise SignatureError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Short stable id of a key: the first 16 hex digits of sha256(raw public key)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    """Base64 Ed25519 signature of `data`."""
    return b64encode(key.sign(data))


def verify(key: Ed25519PublicKey, data: bytes, signature_b64: str | bytes) -> None:
    """Raise `SignatureError` unless `signature_b64` is `key`'s signature of `data`."""
    signature = b64decode(signature_b64)
    try:
        key.verify(signature, data)
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def generate_token() -> str:
    """A new bearer token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """sha256 hex of a token; tokens are random, so no salt or slow hash is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token against its stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)
