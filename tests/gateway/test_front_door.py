"""The gateway's front door, attacked through the real gateway and Redis.

Each test is an attack and fails if the attack succeeds: a value slipped past the
scan must not be delivered, and must appear nowhere in Redis or the logs afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from mas import crypto, keys
from mas.envelope import dumps, parse_envelope
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.cli import main
from mas_gateway.context import MessageContext
from mas_gateway.stages.base import Batch

from ..auditlog import audit_xrange
from .helpers import ProbeAgent, deliveries, gateway_settings, idle, notices

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SSN = "123-45-6789"


async def redis_dump(client: aioredis.Redis) -> bytes:
    """Every key name and every value in the database, concatenated."""
    out: list[bytes] = []
    async for key in client.scan_iter():
        out.append(key)
        kind = (await client.type(key)).decode()
        if kind == "stream":
            for _id, fields in await client.xrange(key):
                out.extend(b"%s=%s" % item for item in fields.items())
        elif kind == "hash":
            out.extend(b"%s=%s" % item for item in (await client.hgetall(key)).items())  # type: ignore[misc]
        elif kind == "string":
            out.append(await client.get(key) or b"")
        elif kind == "list":
            out.extend(await client.lrange(key, 0, -1))  # type: ignore[misc]
        elif kind == "set":
            out.extend(await client.smembers(key))  # type: ignore[misc]
        elif kind == "zset":
            out.extend(await client.zrange(key, 0, -1))
    return b"\n".join(out)


def submission(agent: ProbeAgent, raw: bytes) -> dict[str, bytes]:
    """Ingress fields for exactly these envelope bytes, correctly signed by `agent`."""
    return {
        "envelope": raw,
        "signature": crypto.sign(agent.key, raw).encode(),
        "token": agent.token.encode(),
        "agent_id": agent.agent_id.encode(),
    }


def envelope_obj(agent: ProbeAgent, data: dict[str, Any] | None = None) -> dict[str, Any]:
    envelope = agent.envelope("doctor", "consultation.request", data or {"q": "cough"})
    return envelope.model_dump(mode="json")


@pytest.fixture
async def agents(redis_client: aioredis.Redis) -> tuple[ProbeAgent, ProbeAgent]:
    patient = await ProbeAgent.provision(redis_client, "patient", ["patient"])
    doctor = await ProbeAgent.provision(redis_client, "doctor", ["doctor"])
    return patient, doctor


async def run(
    redis_url: str, tmp_path: Path, patient: ProbeAgent, raws: list[bytes]
) -> tuple[GatewayService, list[Any], list[dict[str, Any]]]:
    """Submit the raw envelopes; return the gateway, the doctor's deliveries, the notices."""
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        for raw in raws:
            await patient.submit_fields(submission(patient, raw))
        await idle(gateway)
        delivered = await deliveries(patient.admin, gateway, "doctor")
        told = await notices(patient.admin, gateway, "patient")
    return gateway, delivered, told


async def assert_nowhere(
    client: aioredis.Redis, caplog: pytest.LogCaptureFixture, *secrets: str
) -> None:
    """No secret in Redis (the outbox entry is gone), in any log record or its arguments."""
    outbox = keys.agent_outbox("patient")
    assert await client.xlen(outbox) == 0, "the outbox entry outlived its commit"
    dump = await redis_dump(client)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in secrets:
        assert secret.encode() not in dump, f"{secret!r} is still in Redis"
        assert secret not in logged, f"{secret!r} was logged"


# -- parser differentials ------------------------------------------------------------


@pytest.mark.parametrize("where", ["top level", "nested in data"])
async def test_duplicate_keys_cannot_smuggle_an_ssn_past_the_scan(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    agents: tuple[ProbeAgent, ProbeAgent],
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    patient, _doctor = agents
    raw = dumps(envelope_obj(patient, {"note": "fine"}))
    if where == "top level":  # the scan would see the last data, the receiver the bytes
        raw = raw.replace(b'"data":{', b'"data":{"ssn":"' + SSN.encode() + b'"},"data":{', 1)
        path = "$.data"
    else:
        raw = raw.replace(b'"note":"fine"', b'"note":"' + SSN.encode() + b'","note":"fine"', 1)
        path = "$.data.note"
    assert json.loads(raw)["data"]["note"] == "fine"  # what a last-value-wins scan would see
    _gateway, delivered, [notice] = await run(redis_url, tmp_path, patient, [raw])
    assert delivered == []
    assert notice["code"] == 400 and f"duplicate JSON key {path}" in notice["reason"]
    await assert_nowhere(redis_client, caplog, SSN)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("where", ["timestamp", "data"])
async def test_non_finite_numbers_are_refused(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    agents: tuple[ProbeAgent, ProbeAgent],
    literal: str,
    where: str,
) -> None:
    patient, _doctor = agents
    obj = envelope_obj(patient, {"dose": 1.5})
    raw = dumps(obj)
    old = str(obj["timestamp"]) if where == "timestamp" else "1.5"
    raw = raw.replace(old.encode(), literal.encode(), 1)
    gateway, delivered, [notice] = await run(redis_url, tmp_path, patient, [raw])
    assert delivered == [] and notice["code"] == 400
    assert ("$.timestamp" if where == "timestamp" else "$.data.dose") in notice["reason"]
    assert gateway.counts["malformed"] == 1


@pytest.mark.parametrize("stamp", [0, -1.0, 1.7e12, 7258118400.0, 10**30])
async def test_absurd_timestamps_are_refused(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    agents: tuple[ProbeAgent, ProbeAgent],
    stamp: float,
) -> None:
    patient, _doctor = agents
    obj = envelope_obj(patient)
    obj["timestamp"] = stamp
    _gateway, delivered, [notice] = await run(redis_url, tmp_path, patient, [dumps(obj)])
    assert delivered == [] and notice["code"] == 400
    assert "timestamp must be Unix seconds" in notice["reason"]


async def test_the_forwarded_sender_bytes_are_exactly_the_delivered_envelope(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    agents: tuple[ProbeAgent, ProbeAgent],
) -> None:
    patient, _doctor = agents
    obj = envelope_obj(patient, {"q": "cough", "n": [1, 2.5, None, True], "é": {"x": "😀"}})
    obj.update(correlation_id="conv-1", trace={"traceparent": PARENT, "tracestate": "rojo=1"})
    raw = dumps(obj)
    _gateway, [delivery], _told = await run(redis_url, tmp_path, patient, [raw])
    assert delivery.sender_envelope == raw
    assert parse_envelope(delivery.sender_envelope) == delivery.envelope
    assert json.loads(delivery.sender_envelope) == delivery.envelope.model_dump(mode="json")


# -- envelope fields -----------------------------------------------------------------

FIELD_ATTACKS: list[tuple[dict[str, Any], str, int]] = [
    ({"message_type": f"patient.{SSN}"}, SSN, 403),  # denied by authz, then screened
    ({"message_type": "patient.JohnSmith"}, "JohnSmith", 403),
    ({"message_type": "patient John Smith"}, "John Smith", 400),
    ({"message_id": SSN}, SSN, 451),
    ({"message_id": "MariaGarcia"}, "MariaGarcia", 451),
    ({"correlation_id": SSN}, SSN, 451),
    ({"correlation_id": "Maria_Garcia"}, "Maria_Garcia", 451),
    ({"correlation_id": "123 45 6789"}, "123 45 6789", 400),
    ({"in_reply_to": "John-Smith"}, "John-Smith", 451),
    ({"nonce": f"abcdefgh-{SSN}"}, f"abcdefgh-{SSN}", 451),
    ({"nonce": "John_Smith_padding"}, "John_Smith_padding", 451),
    ({"nonce": "John Smith 123456789"}, "John Smith", 400),
    ({"trace": {"traceparent": PARENT, "tracestate": f"rojo={SSN}"}}, SSN, 451),
    ({"trace": {"traceparent": PARENT, "tracestate": "note=Maria Garcia"}}, "Maria Garcia", 451),
    ({"trace": {"traceparent": PARENT, "baggage": "name=John Smith"}}, "John Smith", 400),
]


@pytest.mark.parametrize(("fields", "secret", "code"), FIELD_ATTACKS)
async def test_envelope_fields_cannot_carry_personal_data_anywhere(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    agents: tuple[ProbeAgent, ProbeAgent],
    fields: dict[str, Any],
    secret: str,
    code: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    patient, _doctor = agents
    obj = envelope_obj(patient)
    obj.update(fields)
    _gateway, delivered, [notice] = await run(redis_url, tmp_path, patient, [dumps(obj)])
    assert delivered == [], "an envelope field carried personal data to the receiver"
    assert notice["code"] == code
    field = next(iter(fields))
    if code == 451:
        assert "in envelope field" in notice["reason"] and field in notice["reason"]
    [(_id, raw_entry)] = await audit_xrange(redis_client)
    entry = parse_entry(raw_entry[b"entry"])
    assert entry is not None and entry["code"] == code
    await assert_nowhere(redis_client, caplog, secret)


async def test_clean_envelope_fields_are_still_recorded(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    agents: tuple[ProbeAgent, ProbeAgent],
) -> None:
    patient, _doctor = agents
    obj = envelope_obj(patient)
    obj.update(correlation_id="conv-7", trace={"traceparent": PARENT})
    _gateway, [delivery], _told = await run(redis_url, tmp_path, patient, [dumps(obj)])
    assert delivery.envelope.correlation_id == "conv-7"
    [(_id, raw_entry)] = await audit_xrange(redis_client)
    entry = parse_entry(raw_entry[b"entry"])
    assert entry is not None
    assert (entry["message_id"], entry["type"], entry["correlation_id"]) == (
        obj["message_id"],
        "consultation.request",
        "conv-7",
    )


# -- dead letters --------------------------------------------------------------------


class Exploding:
    """A stage with a bug, after DLP: the payload it fails on was never delivered."""

    name = "exploding"

    async def prepare(self, batch: Batch[None]) -> None:
        return None

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        raise ValueError(f"bug in a stage, quoting the payload: {ctx.data}")


async def test_an_internal_error_dead_letter_holds_no_payload_and_no_token(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    agents: tuple[ProbeAgent, ProbeAgent],
) -> None:
    caplog.set_level(logging.DEBUG)
    patient, _doctor = agents
    raw = dumps(envelope_obj(patient, {"secret": "diagnosis: rare condition"}))
    async with GatewayService(gateway_settings(redis_url, tmp_path)) as gateway:
        gateway.pipeline.append(cast(Any, Exploding()))
        await patient.submit_fields(submission(patient, raw))
        await idle(gateway)
        [notice] = await notices(redis_client, gateway, "patient")
    assert notice["code"] == 500
    [(_id, letter)] = await redis_client.xrange(keys.DLQ)
    assert set(letter) == {
        b"dlq_reason",
        b"dlq_source",
        b"dlq_stream",
        b"dlq_entry_id",
        b"dlq_envelope_sha256",
        b"dlq_envelope_bytes",
        b"dlq_sender",
        b"dlq_message_id",
    }
    assert letter[b"dlq_envelope_sha256"] == hashlib.sha256(raw).hexdigest().encode()
    assert letter[b"dlq_envelope_bytes"] == str(len(raw)).encode()
    assert letter[b"dlq_sender"] == b"patient"
    assert letter[b"dlq_message_id"] == json.loads(raw)["message_id"].encode()
    await assert_nowhere(redis_client, caplog, "rare condition", patient.token)
    logged = [r.getMessage() for r in caplog.records]
    failures = [m for m in logged if "stage exploding failed" in m]
    assert failures and "ValueError" in failures[0], "the operator still learns what failed"

    capsys.readouterr()
    assert await asyncio.to_thread(main, ["dlq", "list", "--redis-url", redis_url]) == 0
    line = capsys.readouterr().out
    assert "patient -> gateway [message " in line
    assert f"{len(raw)} bytes" in line and "internal gateway error" in line
    assert await asyncio.to_thread(main, ["dlq", "list", "--json", "--redis-url", redis_url]) == 0
    [summary] = json.loads(capsys.readouterr().out)
    assert summary["sender"] == "patient" and summary["replayable"] is False
    assert summary["message_id"] == json.loads(raw)["message_id"]
    assert summary["envelope_bytes"] == len(raw)
