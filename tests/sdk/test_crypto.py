"""Ed25519 through `mas.crypto`: libsodium for short messages, OpenSSL for long ones, one result."""

from __future__ import annotations

import copy
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mas import crypto
from mas.errors import SignatureError

SHORT = os.urandom(300)
LONG = os.urandom(crypto.SODIUM_MAX_BYTES + 1)
EDGE = os.urandom(crypto.SODIUM_MAX_BYTES)
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


@pytest.mark.parametrize(
    "message", [b"", SHORT, EDGE, LONG], ids=["empty", "short", "edge", "long"]
)
def test_signatures_are_those_of_openssl_and_verify_both_ways(message: bytes) -> None:
    openssl = Ed25519PrivateKey.generate()
    ours = crypto.load_private_key(crypto.private_key_to_b64(openssl))
    signature = ours.sign(message)
    assert signature == openssl.sign(message)  # deterministic Ed25519: the same bytes
    openssl.public_key().verify(signature, message)
    public = crypto.load_public_key(crypto.public_key_to_b64(openssl))
    crypto.verify(public, message, crypto.sign(openssl, message))
    crypto.verify(public, message, crypto.sign(ours, message))


@pytest.mark.parametrize("message", [SHORT, LONG], ids=["short", "long"])
def test_forged_tampered_and_malleated_signatures_are_refused(message: bytes) -> None:
    key = crypto.generate_private_key()
    public = crypto.load_public_key(crypto.public_key_to_b64(key))
    signature = key.sign(message)
    other = crypto.generate_private_key().sign(message)
    tampered = bytes([message[0] ^ 1]) + message[1:]
    s = int.from_bytes(signature[32:], "little") + GROUP_ORDER  # same point equation, S >= L
    malleated = signature[:32] + s.to_bytes(32, "little")
    cases = [(other, message), (signature, tampered), (signature[:63], message)]
    cases += [(signature + b"\0", message), (malleated, message)]
    for bad, data in cases:
        with pytest.raises(SignatureError):
            crypto.verify(public, data, crypto.b64encode(bad))


def test_keys_keep_their_ids_encodings_and_equality() -> None:
    openssl = Ed25519PrivateKey.generate()
    ours = crypto.load_private_key(crypto.private_key_to_b64(openssl))
    assert crypto.key_id(ours) == crypto.key_id(openssl)
    assert crypto.public_key_to_b64(ours) == crypto.public_key_to_b64(openssl)
    assert crypto.private_key_to_b64(ours) == crypto.private_key_to_b64(openssl)
    public = crypto.load_public_key(crypto.public_key_to_b64(openssl))
    assert public == openssl.public_key()
    assert public == ours.public_key()
    assert public != crypto.generate_private_key().public_key()
    assert copy.deepcopy(ours).sign(SHORT) == ours.sign(SHORT)
