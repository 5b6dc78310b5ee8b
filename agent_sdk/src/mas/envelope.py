"""The wire format: submissions agents write to the ingress, deliveries the gateway writes.

A submission is a stream entry on ``mas.gateway.ingress`` with the fields

    envelope   compact JSON bytes of an `Envelope` (signed exactly as written)
    signature  base64 Ed25519 signature of `envelope` by the sender's key
    token      the sender's bearer token (the gateway stores only its hash)
    agent_id   the claimed sender, so that even an unparseable entry can be answered

A delivery is a stream entry on ``agent.stream:{target}`` with the fields

    envelope          compact JSON of the delivered envelope: the submission's fields
                      (data possibly redacted) plus a ``gateway`` section
    signature         base64 Ed25519 signature of `envelope` by the gateway key
    key_id            id of that gateway key
    sender_envelope   the submission bytes, only when the gateway did not modify the data
    sender_signature  the sender's signature of `sender_envelope`

Agents never hand a handler an entry whose gateway signature does not verify.
Submission bytes are parsed strictly (`mas.strict_json`) and every field other than
``data`` follows a grammar (ids, nonce, timestamp range, W3C trace context).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import crypto
from .errors import MalformedMessage, SignatureError
from .patterns import AGENT_ID_PATTERN, ID_PATTERN, MESSAGE_TYPE_PATTERN, NONCE_PATTERN
from .strict_json import JSONRejected, loads_strict
from .tracecontext import check_trace

__all__ = [
    "AGENT_ID_PATTERN",
    "ENVELOPE_VERSION",
    "GATEWAY_SENDER",
    "ID_PATTERN",
    "MESSAGE_TYPE_PATTERN",
    "NONCE_PATTERN",
    "PARKED_TYPE",
    "REJECTION_TYPE",
    "TIMESTAMP_RANGE",
    "Delivery",
    "Envelope",
    "GatewayStamp",
    "decode_fields",
    "dumps",
    "encode_envelope",
    "new_message_id",
    "new_nonce",
    "parse_delivered",
    "parse_envelope",
    "sign_delivery",
    "sign_submission",
    "verify_delivery",
]

ENVELOPE_VERSION = 1
TIMESTAMP_RANGE = (946_684_800.0, 4_102_444_800.0)
"""Unix seconds from 2000-01-01 (inclusive) to 2100-01-01 (exclusive), UTC."""
_ID = re.compile(ID_PATTERN)
GATEWAY_SENDER = "mas.gateway"
REJECTION_TYPE = "mas.rejected"
PARKED_TYPE = "mas.parked"
"""Gateway notice: a message was held back because its target's circuit is open."""


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that get signed."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def new_message_id() -> str:
    """A new random message id: 128 bits from the OS's CSPRNG as 32 hex digits."""
    return os.urandom(16).hex()


def new_nonce() -> str:
    """A new random nonce (the same form as `new_message_id`)."""
    return os.urandom(16).hex()


class Envelope(BaseModel):
    """What an agent submits: routing, payload, replay protection and trace context."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = ENVELOPE_VERSION
    message_id: str = Field(default_factory=new_message_id, pattern=ID_PATTERN)
    sender_id: str = Field(pattern=AGENT_ID_PATTERN)
    target_id: str = Field(pattern=AGENT_ID_PATTERN)
    message_type: str = Field(pattern=MESSAGE_TYPE_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: float = Field(default_factory=time.time)
    nonce: str = Field(default_factory=new_nonce, pattern=NONCE_PATTERN)
    correlation_id: str | None = Field(default=None, pattern=ID_PATTERN)
    in_reply_to: str | None = Field(default=None, pattern=ID_PATTERN)
    expects_reply: bool = False
    trace: dict[str, str] = Field(default_factory=dict)

    @field_validator("v", mode="before")
    @classmethod
    def _exact_version(cls, value: Any) -> Any:
        if type(value) is not int:  # true and 1.0 equal 1 in Python, not on the wire
            raise ValueError("v must be the integer 1")
        return value

    @field_validator("timestamp")
    @classmethod
    def _sane_timestamp(cls, value: float) -> float:
        low, high = TIMESTAMP_RANGE
        if not math.isfinite(value):
            raise ValueError("timestamp must be a finite number")
        if not low <= value < high:
            hint = " (it looks like milliseconds)" if low * 1000 <= value < high * 1000 else ""
            raise ValueError(
                f"timestamp must be Unix seconds from 2000-01-01 to 2100-01-01 UTC{hint}"
            )
        return value

    @field_validator("trace", mode="before")
    @classmethod
    def _trace_context(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("trace must be an object")
        check_trace(value)  # pyright: ignore[reportUnknownArgumentType]
        return value


class GatewayStamp(BaseModel):
    """What the gateway adds to a delivered envelope."""

    model_config = ConfigDict(extra="allow", frozen=True)

    gateway_id: str
    key_id: str
    delivered_at: float
    kind: Literal["message", "rejection", "notice"] = "message"
    modified: bool = False
    redacted_paths: list[str] = Field(default_factory=list)
    trace: dict[str, str] = Field(default_factory=dict)
    """W3C trace context of the gateway's span; the envelope keeps the sender's as signed."""


class Delivery(BaseModel):
    """A verified delivery as an agent sees it."""

    model_config = ConfigDict(frozen=True)

    envelope: Envelope
    gateway: GatewayStamp
    stream_id: str = ""
    sender_envelope: bytes | None = None
    sender_signature: str | None = None


def decode_fields(fields: dict[Any, Any]) -> dict[str, bytes]:
    """Normalise a stream entry's fields to ``str -> bytes``."""
    out: dict[str, bytes] = {}
    for key, value in fields.items():
        name = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        out[name] = value if isinstance(value, bytes) else str(value).encode("utf-8")
    return out


def _error_summary(exc: ValidationError) -> str:
    """Field names and messages, never values (nor keys the sender made up)."""
    parts: list[str] = []
    unknown = 0
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            unknown += 1
            continue
        if len(parts) < 5:
            field = str(err["loc"][0]) if err["loc"] else "envelope"
            message = err["msg"].removeprefix("Value error, ")
            parts.append(f"{field}: {message}")
    if unknown:
        parts.append(f"{unknown} unknown field(s)")
    return "; ".join(parts)


def parse_envelope(raw: bytes) -> Envelope:
    """Parse submission bytes strictly; `MalformedMessage` names what is wrong (never values).

    The bytes must be strict JSON (`mas.strict_json`) and every field must have its
    exact type (no coercion), so the envelope is the one object the bytes can mean.
    """
    try:
        obj = loads_strict(raw)
    except JSONRejected as exc:
        raise MalformedMessage(f"envelope is not strict JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedMessage("envelope must be a JSON object")
    try:
        return Envelope.model_validate(obj, strict=True)
    except ValidationError as exc:
        raw_id = obj.get("message_id")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        message_id = raw_id if isinstance(raw_id, str) and _ID.fullmatch(raw_id) else None
        raise MalformedMessage(
            f"invalid envelope: {_error_summary(exc)}", message_id=message_id
        ) from None


def encode_envelope(envelope: Envelope) -> bytes:
    """The compact JSON bytes of a submission; `TypeError` if its data holds a non-JSON value.

    Every field but ``data`` is a JSON type already, so the model is dumped without
    conversion and a value JSON cannot carry (a set, a datetime) fails instead of
    being coerced.
    """
    return dumps(envelope.model_dump())


def sign_submission(
    envelope: Envelope, key: Ed25519PrivateKey, token: str, *, encoded: bytes | None = None
) -> dict[str, bytes]:
    """Stream fields of a signed submission for `envelope` (`encoded`: its bytes, if known)."""
    raw = encode_envelope(envelope) if encoded is None else encoded
    return {
        "envelope": raw,
        "signature": crypto.sign(key, raw).encode("ascii"),
        "token": token.encode("utf-8"),
        "agent_id": envelope.sender_id.encode("utf-8"),
    }


def sign_delivery(
    envelope: dict[str, Any],
    stamp: GatewayStamp,
    key: Ed25519PrivateKey,
    *,
    sender_envelope: bytes | None = None,
    sender_signature: bytes | None = None,
) -> dict[str, bytes]:
    """Stream fields of a gateway-signed delivery."""
    delivered = dict(envelope)
    delivered["gateway"] = stamp.model_dump(mode="json")
    raw = dumps(delivered)
    fields: dict[str, bytes] = {
        "envelope": raw,
        "signature": crypto.sign(key, raw).encode("ascii"),
        "key_id": stamp.key_id.encode("ascii"),
    }
    if sender_envelope is not None and sender_signature is not None:
        fields["sender_envelope"] = sender_envelope
        fields["sender_signature"] = sender_signature
    return fields


def verify_delivery(fields: dict[str, bytes], trusted_keys: dict[str, Ed25519PublicKey]) -> bytes:
    """Check the gateway signature of a delivery; return the signed envelope bytes.

    Raises:
        SignatureError: unsigned, signed by an unknown key, or forged.
    """
    raw = fields.get("envelope")
    signature = fields.get("signature")
    kid = fields.get("key_id", b"").decode("ascii", "replace")
    if raw is None or signature is None:
        raise SignatureError("delivery is not signed by a gateway")
    key = trusted_keys.get(kid)
    if key is None:
        raise SignatureError(f"delivery signed by an untrusted key id {kid!r}")
    crypto.verify(key, raw, signature)
    return raw


def parse_delivered(raw: bytes, fields: dict[str, bytes], stream_id: str = "") -> Delivery:
    """Split verified delivery bytes into the envelope and the gateway stamp."""
    try:
        obj = json.loads(raw)
        stamp = GatewayStamp.model_validate(obj.pop("gateway"))
        envelope = Envelope.model_validate(obj)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SignatureError("signed delivery has an invalid envelope") from exc
    sig = fields.get("sender_signature")
    return Delivery(
        envelope=envelope,
        gateway=stamp,
        stream_id=stream_id,
        sender_envelope=fields.get("sender_envelope"),
        sender_signature=sig.decode("ascii") if sig else None,
    )
