"""DLP scans the envelope's text fields with data: findings block, clean traffic passes."""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

import pytest

from mas.envelope import Envelope
from mas.errors import BlockedByDLP
from mas_gateway.context import MessageContext
from mas_gateway.dlp.engine.envelope_fields import field_texts, words
from mas_gateway.stages.dlp import DLPStage

from ..stages import run_stages

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
DOMAINS = [
    "consultation",
    "appointment",
    "lab",
    "imaging",
    "prescription",
    "billing",
    "claim",
    "referral",
    "triage",
    "vitals",
    "discharge",
    "admission",
    "order",
    "inventory",
    "patient",
    "clinician",
    "chat",
    "task",
    "report",
    "audit",
    "scheduler",
    "session",
    "user",
    "payment",
    "insurance",
    "pharmacy",
    "careplan",
    "encounter",
    "observation",
    "device",
]
EVENTS = [
    "request",
    "reply",
    "result",
    "created",
    "updated",
    "cancelled",
    "ready",
    "submitted",
    "approved",
    "denied",
    "assigned",
    "completed",
    "failed",
    "retry",
    "sync",
    "notify",
    "summary",
    "export",
    "v2",
    "status_changed",
]
TYPES = [f"{d}.{e}" for d in DOMAINS for e in EVENTS] + [
    "hl7:adt_a01",
    "fhir:observation",
    "job:retry-3",
    "order.12345",
    "ticket-123",
    "mas.rejected",
    "question.ask",
]


@pytest.fixture
def stage() -> DLPStage:
    return DLPStage(workers=0)


def _ctx(envelope: Envelope, roles: tuple[str, ...] = ("patient",)) -> MessageContext:
    ctx = MessageContext(entry_id="1-0", fields={}, envelope=envelope, data=envelope.data)
    ctx.sender_roles = roles
    ctx.target_groups = ("clinicians",)  # a route that allows PERSON and PHI in data
    return ctx


def _envelope(**fields: Any) -> Envelope:
    fields.setdefault("message_type", "consultation.request")
    fields.setdefault("data", {"q": "cough"})
    return Envelope(sender_id="patient", target_id="doctor", **fields)


async def _blocked(stage: DLPStage, ctx: MessageContext) -> BlockedByDLP | None:
    await run_stages(stage, [ctx])
    return ctx.rejection if isinstance(ctx.rejection, BlockedByDLP) else None


@pytest.mark.parametrize(
    ("fields", "kind", "field", "secret"),
    [
        ({"message_type": "patient.JohnSmith.123-45-6789"}, "PERSON", "message_type", "Smith"),
        ({"message_type": "patient.123-45-6789"}, "US_SSN", "message_type", "6789"),
        ({"message_type": "record.MariaGarcia"}, "PERSON", "message_type", "Garcia"),
        ({"message_id": "123-45-6789"}, "US_SSN", "message_id", "6789"),
        ({"message_id": "MariaGarcia"}, "PERSON", "message_id", "Garcia"),
        ({"correlation_id": "4111111111111111"}, "CREDIT_CARD", "correlation_id", "1111"),
        ({"correlation_id": b"123-45-6789".hex()}, "US_SSN", "correlation_id", "3132"),
        ({"in_reply_to": "John-Smith"}, "PERSON", "in_reply_to", "Smith"),
        ({"nonce": "abcdefgh-123-45-6789"}, "US_SSN", "nonce", "6789"),
        ({"nonce": "John_Smith_padding"}, "PERSON", "nonce", "Smith"),
        (
            {"trace": {"traceparent": PARENT, "tracestate": "rojo=123-45-6789"}},
            "US_SSN",
            "trace.tracestate",
            "6789",
        ),
        (
            {"trace": {"traceparent": PARENT, "tracestate": "note=Maria Garcia"}},
            "PERSON",
            "trace.tracestate",
            "Garcia",
        ),
    ],
)
async def test_sensitive_envelope_fields_block_whatever_the_route_allows(
    stage: DLPStage, fields: dict[str, Any], kind: str, field: str, secret: str
) -> None:
    ctx = _ctx(_envelope(**fields))
    blocked = await _blocked(stage, ctx)
    assert blocked is not None, f"{kind} in {field} was let through"
    assert blocked.code == 451
    # Which recognizer fires may change with the recognizers; that the field blocks may not.
    assert re.search(rf"[A-Z_]+ in envelope field {re.escape(field)}\b", blocked.reason)
    assert secret not in blocked.reason
    assert field in ctx.withheld and ctx.dlp_action == "block"
    assert f"envelope.{field}" in {f.path for f in ctx.dlp_findings}
    if field == "message_id":
        assert ctx.message_id is None and blocked.message_id is None


async def test_span_ids_that_read_as_card_numbers_do_not_block(stage: DLPStage) -> None:
    # 16 random hex digits are all decimal and Luhn-valid about once in 18,000 span ids.
    for span_id in ("4092639572128961", "3858251297261394"):
        trace = {"traceparent": f"00-4bf92f3577b34da6a3ce929d0e0e4736-{span_id}-01"}
        assert await _blocked(stage, _ctx(_envelope(trace=trace))) is None


async def test_an_envelope_field_blocks_even_when_the_data_would_be_redacted(
    stage: DLPStage,
) -> None:
    envelope = _envelope(message_type="patient.123-45-6789", data={"note": "call Maria Garcia"})
    blocked = await _blocked(stage, _ctx(envelope, roles=("agent",)))
    assert blocked is not None and "message_type" in blocked.reason


async def test_generated_ids_and_realistic_message_types_are_never_blocked(
    stage: DLPStage,
) -> None:
    rng = random.Random(20_240_601)

    def uid() -> str:
        return uuid.UUID(int=rng.getrandbits(128), version=4).hex

    blocked: list[str] = []
    for start in range(0, 10_000, 250):
        batch = []
        for i in range(start, start + 250):
            envelope = _envelope(
                message_type=TYPES[i % len(TYPES)],
                message_id=uid(),
                nonce=uid(),
                correlation_id=uid() if i % 2 else None,
                in_reply_to=uid() if i % 2 else None,
                trace={"traceparent": f"00-{uid()}-{uid()[:16]}-01"},
            )
            batch.append(_ctx(envelope))
        await run_stages(stage, batch)
        blocked += [ctx.rejection.reason for ctx in batch if ctx.rejection is not None]
    assert blocked == []


def test_identifiers_are_also_read_as_words() -> None:
    assert words("patient.JohnSmith_visit:notes") == "patient John Smith visit notes"
    assert words("abc-123-45-6789-x") == "abc 123-45-6789 x"
    assert words("4bf92f3577b34da6") == "4bf92f3577b34da6"


def test_only_text_fields_are_scanned_and_agent_ids_and_traceparent_are_not() -> None:
    texts = field_texts(_envelope(trace={"traceparent": PARENT}))
    assert set(texts.repeating.names) == {"message_type"}
    assert set(texts.unique.names) == {"message_id", "nonce"}
    assert "patient" not in texts.unique.texts and "doctor" not in texts.unique.texts
