"""Audit entries: the fields an auditor needs, canonical bytes, and never a payload value."""

from __future__ import annotations

import hashlib
import json

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas.errors import MalformedMessage, RateLimited, Unauthenticated
from mas_gateway.audit import append_entry, build_audit_entry, canonical_json
from mas_gateway.audit.entry import payload_digest
from mas_gateway.audit.streams import stream_entries
from mas_gateway.context import MessageContext

from .helpers import SHARD, dlp_context, make_context


def build(ctx: MessageContext) -> dict[str, object]:
    raw = build_audit_entry(ctx, gateway_id="gw-1", key_id="abcd")
    assert canonical_json(json.loads(raw)) == raw, "entry bytes are not canonical"
    return json.loads(raw)


def test_delivered_entry_records_who_what_and_which_rule() -> None:
    ctx = make_context(7)
    entry = build(ctx)
    assert entry["message_id"] == "msg-00007"
    assert (entry["sender"], entry["target"], entry["type"]) == (
        "doctor",
        "patient",
        "consultation.response",
    )
    assert (entry["decision"], entry["code"]) == ("delivered", 200)
    assert (entry["rule"], entry["policy_version"]) == ("policy.csv:3", "v-test")
    assert (entry["gateway_id"], entry["key_id"]) == ("gw-1", "abcd")
    assert entry["time"] == round(ctx.received_at, 6)
    assert isinstance(entry["latency_ms"], float) and entry["latency_ms"] >= 0
    assert entry["ingress_id"] == "1007-0"
    assert entry["envelope_sha256"] == hashlib.sha256(ctx.raw_envelope).hexdigest()


def test_payload_hash_is_over_canonical_json_of_the_submitted_data() -> None:
    ctx = make_context(1, data={"b": [1, 2], "a": "é"})
    ctx.raw_envelope = ctx.raw_envelope.replace(b'"data":', b'"data" :  ')
    entry = build(ctx)
    expected = hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()
    assert entry["payload_sha256"] == expected == payload_digest({"a": "é", "b": [1, 2]})


def test_dlp_findings_give_types_counts_and_paths_but_never_values() -> None:
    ctx = dlp_context()
    ctx.shadow_decisions = [{"rule": "policy.csv:9", "would_be": "deny", "actual": "allow"}]
    raw = build_audit_entry(ctx, gateway_id="gw-1", key_id="abcd")
    entry = json.loads(raw)
    assert entry["dlp"] == {
        "action": "redact",
        "entities": {"PHONE_NUMBER": 2, "US_SSN": 1},
        "paths": ["patient.note", "patient.ssn"],
        "redacted_paths": ["patient.ssn"],
    }
    assert entry["decision"] == "redacted"
    assert entry["shadow"] == [{"rule": "policy.csv:9", "would_be": "deny", "actual": "allow"}]
    for secret in (b"123-45-6789", b"555-0100", b"call"):
        assert secret not in raw


@pytest.mark.parametrize(
    ("rejection", "decision", "code"),
    [
        (MalformedMessage("bad"), "malformed", 400),
        (Unauthenticated("bad token"), "unauthenticated", 401),
        (RateLimited("slow down", retry_after=2.0), "rate_limited", 429),
    ],
)
def test_rejections_map_to_decisions(rejection: Exception, decision: str, code: int) -> None:
    ctx = make_context(1)
    ctx.reject(rejection, stage="test")
    entry = build(ctx)
    assert (entry["decision"], entry["code"]) == (decision, code)


def test_explicit_decision_wins_and_unknown_ones_are_refused() -> None:
    ctx = make_context(1)
    ctx.decision = "parked"
    assert build(ctx)["decision"] == "parked"
    ctx.decision = "teleported"
    with pytest.raises(ValueError, match="unknown audit decision 'teleported'"):
        build(ctx)


def test_unparseable_submission_records_only_well_formed_claims() -> None:
    ctx = MessageContext(entry_id="5-0", fields={"agent_id": b"mallory"}, origin="mallory")
    ctx.raw_envelope = b'{"target_id": "bad target!", "message_type": "x.y", "data": {"k": 1'
    ctx.reject(MalformedMessage("envelope is not valid JSON"), stage="test")
    entry = build(ctx)
    assert entry["sender"] == "mallory"
    assert entry["target"] is None and entry["type"] is None
    assert entry["payload_sha256"] is None
    assert entry["envelope_sha256"] == hashlib.sha256(ctx.raw_envelope).hexdigest()
    assert entry["decision"] == "malformed"

    ctx.raw_envelope = (
        b'{"target_id": "doctor", "message_type": "patient.123-45-6789", "data": {"k": 1},'
        b' "message_id": "123-45-6789", "correlation_id": "123-45-6789"}'
    )
    entry = build(ctx)
    assert entry["target"] == "doctor"
    # DLP never scanned the claimed text fields of an unparsed envelope: none is recorded.
    assert (entry["type"], entry["message_id"], entry["correlation_id"]) == (None, None, None)
    assert entry["payload_sha256"] == payload_digest({"k": 1})

    # The claimed agent_id field never names the sender: only the outbox's owner does.
    ctx.fields["agent_id"] = b"Maria Garcia 123-45-6789"
    assert build(ctx)["sender"] == "mallory"
    ctx.origin = ""
    assert build(ctx)["sender"] is None


async def test_append_entry_writes_the_exact_bytes(redis_client: aioredis.Redis) -> None:
    raw = build_audit_entry(make_context(3), gateway_id="gw-1", key_id="abcd")
    stream_id = await append_entry(redis_client, raw, shard=SHARD)
    [(got_id, fields)] = stream_entries(await redis_client.xrange(keys.audit_log(SHARD)))
    assert got_id == stream_id
    assert fields == {"entry": raw}
