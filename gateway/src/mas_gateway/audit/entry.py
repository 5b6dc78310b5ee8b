"""Audit entries: what one gateway decision records, as deterministic canonical JSON bytes.

An entry names the message (id, sender, target, type), the decision and its code, the
policy rule and version that decided, shadow-rule verdicts, DLP entity types with their
counts and JSON paths, the SHA-256 of the submitted payload, the gateway and its key,
and the latency. It never holds the payload or any value found in it: envelope fields
in which DLP found sensitive data are recorded as null, and of an envelope that did
not parse only the claimed sender and target (when they are well-formed agent ids).

``payload_sha256`` is SHA-256 over the canonical JSON (`canonical_json`) of the ``data``
object as submitted, so whoever holds the original payload can show it is the one
audited; ``envelope_sha256`` covers the exact submission bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.envelope import AGENT_ID_PATTERN

from ..context import MessageContext
from ..decisions import DECISION_BY_CODE, DECISIONS, decision_for

__all__ = [
    "DECISIONS",
    "DECISION_BY_CODE",
    "ENTRY_FIELD",
    "ENTRY_VERSION",
    "append_entry",
    "build_audit_entry",
    "build_released_entry",
    "canonical_json",
    "message_id_of",
    "parse_entry",
    "payload_digest",
]

ENTRY_VERSION = 1
ENTRY_FIELD = "entry"
"""Name of the stream field holding the entry bytes in a shard's audit log."""

_AGENT_ID = re.compile(AGENT_ID_PATTERN)
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAX_CLAIMED = 128


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace: equal values give equal bytes."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def payload_digest(data: Any) -> str:
    """SHA-256 hex of the canonical JSON of a payload."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _plain(value: Any) -> Any:
    """`value` reduced to JSON types, so that encoding can never fail mid-commit."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return str(value)


def _submitted(raw: bytes) -> dict[str, Any] | None:
    """The submitted envelope as a JSON object, or None when it is not one."""
    if not raw:
        return None
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None  # pyright: ignore[reportUnknownVariableType]


def _matching(value: Any, pattern: re.Pattern[str]) -> str | None:
    """`value` when it is a string of the expected shape (so nothing arbitrary is logged)."""
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _decision(ctx: MessageContext) -> str:
    decision = ctx.decision if ctx.decision is not None else decision_for(ctx)
    if decision not in DECISIONS:
        raise ValueError(f"unknown audit decision {decision!r}")
    return decision


def build_audit_entry(ctx: MessageContext, *, gateway_id: str, key_id: str) -> bytes:
    """Canonical bytes of the audit entry for one decision; never includes payload values."""
    envelope = ctx.envelope
    decision = _decision(ctx)
    payload_sha256: str | None = None
    if envelope is not None:  # fields DLP found sensitive data in are withheld (None)
        message_id: str | None = ctx.message_id
        target: str | None = None if "target_id" in ctx.withheld else envelope.target_id
        message_type: str | None = ctx.recordable("message_type")
        correlation_id = _matching(ctx.recordable("correlation_id"), _MESSAGE_ID)
        sender = envelope.sender_id
        if "data" in envelope.model_fields_set:  # parsed from these bytes, never re-read
            payload_sha256 = payload_digest(envelope.data)
    else:  # unparsed: no claimed text field is recorded (DLP never scanned one)
        claimed = _submitted(ctx.raw_envelope) or {}
        message_id = message_type = correlation_id = None
        target = _matching(claimed.get("target_id"), _AGENT_ID)
        sender = _matching(ctx.sender_id[:_MAX_CLAIMED], _AGENT_ID)
        if "data" in claimed:
            payload_sha256 = payload_digest(claimed["data"])
    code = ctx.rejection.code if ctx.rejection is not None else None
    if code is None and decision in ("delivered", "redacted"):
        code = 200
    findings = ctx.dlp_findings
    entities = Counter(finding.entity_type for finding in findings) if findings else {}
    entry = {
        "v": ENTRY_VERSION,
        "message_id": message_id,
        "time": round(ctx.received_at, 6),
        "sender": sender,
        "target": target,
        "type": message_type,
        "correlation_id": correlation_id,
        "decision": decision,
        "code": code,
        "rule": ctx.authz_rule,
        "policy_version": ctx.policy_version,
        "shadow": _plain(ctx.shadow_decisions),
        "dlp": {
            "action": ctx.dlp_action,
            "entities": dict(sorted(entities.items())),
            "paths": sorted({finding.path for finding in findings}),
            "redacted_paths": sorted(set(ctx.redacted_paths)),
        },
        "payload_sha256": payload_sha256,
        "envelope_sha256": hashlib.sha256(ctx.raw_envelope).hexdigest()
        if ctx.raw_envelope
        else None,
        "ingress_id": ctx.entry_id,
        "gateway_id": gateway_id,
        "key_id": key_id,
        "latency_ms": round(ctx.elapsed_ms(), 3),
    }
    return canonical_json(entry)


def build_released_entry(
    delivered: dict[str, Any],
    meta: dict[str, Any],
    *,
    gateway_id: str,
    key_id: str,
    policy_version: str | None,
    now: float,
) -> bytes:
    """Canonical bytes of the entry auditing the release of a parked delivery.

    `delivered` is the gateway-signed envelope as parked (only a gateway writes the
    parked queue), `meta` what was recorded when it was parked (digests and ids). The
    entry has the fields of every other entry; ``policy_version`` is the version whose
    circuit settings released it, ``ingress_id`` the outbox entry that was parked.
    """
    stamp: Any = delivered.get("gateway")
    redacted: Any = stamp.get("redacted_paths") if isinstance(stamp, dict) else None
    paths = sorted({str(p) for p in redacted}) if isinstance(redacted, list) else []  # pyright: ignore[reportUnknownVariableType]
    entry = {
        "v": ENTRY_VERSION,
        "message_id": _matching(delivered.get("message_id"), _MESSAGE_ID),
        "time": round(now, 6),
        "sender": _matching(delivered.get("sender_id"), _AGENT_ID),
        "target": _matching(delivered.get("target_id"), _AGENT_ID),
        "type": _plain(delivered.get("message_type")),
        "correlation_id": _matching(delivered.get("correlation_id"), _MESSAGE_ID),
        "decision": "released",
        "code": 200,
        "rule": None,
        "policy_version": policy_version,
        "shadow": [],
        "dlp": {
            "action": None,
            "entities": {},
            "paths": [],
            "redacted_paths": paths,
        },
        "payload_sha256": _plain(meta.get("payload_sha256")),
        "envelope_sha256": _plain(meta.get("envelope_sha256")),
        "ingress_id": _plain(meta.get("ingress_id")),
        "gateway_id": gateway_id,
        "key_id": key_id,
        "latency_ms": round(max(0.0, now - float(meta.get("parked_at") or now)) * 1000.0, 3),
    }
    return canonical_json(entry)


def parse_entry(raw: bytes) -> dict[str, Any] | None:
    """The entry as a dict, or None when the bytes are not a JSON object."""
    return _submitted(raw)


def message_id_of(raw: bytes) -> str | None:
    """The message id recorded in an entry, if it has one."""
    parsed = parse_entry(raw)
    value = parsed.get("message_id") if parsed is not None else None
    return value if isinstance(value, str) else None


async def append_entry(client: aioredis.Redis, entry: bytes, *, shard: int) -> str:
    """Append one entry to one shard's audit log; return its stream id (tests and tools).

    The gateway appends inside its commit script instead, with the same field name.
    """
    stream_id = await client.xadd(keys.audit_log(shard), {ENTRY_FIELD: entry})
    return stream_id.decode("ascii") if isinstance(stream_id, bytes) else str(stream_id)
