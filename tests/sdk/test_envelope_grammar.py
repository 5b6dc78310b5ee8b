"""Envelope fields other than data follow a strict grammar, so they cannot carry free text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from mas.envelope import Envelope, dumps, parse_envelope
from mas.errors import MalformedMessage
from mas.telemetry import current_trace_context, producer_span
from mas.tracecontext import check_traceparent, check_tracestate

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def envelope_bytes(**fields: Any) -> bytes:
    obj = Envelope(sender_id="a", target_id="b", message_type="t").model_dump(mode="json")
    obj.update(fields)
    return dumps(obj)


def reason(**fields: Any) -> str:
    with pytest.raises(MalformedMessage) as info:
        parse_envelope(envelope_bytes(**fields))
    return info.value.reason


@pytest.mark.parametrize(
    "value",
    [
        PARENT,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "00-00000000000000000000000000000001-0000000000000001-ff",
    ],
)
def test_valid_traceparents(value: str) -> None:
    check_traceparent(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "must be 00-"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "must be 00-"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "must be 00-"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "must be 00-"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "must be 00-"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n", "must be 00-"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "must be 00-"),
        (" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "must be 00-"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent id"),
        ("John Smith 123-45-6789", "must be 00-"),
    ],
)
def test_invalid_traceparents(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_traceparent(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "rojo=00f067aa0ba902b7",
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "rojo=1 , congo=2",
        "rojo=1,,congo=2",
        "tenant1@vendor=opaque value",
        "a_-*/9=~!",
        ",".join(f"k{i}=v" for i in range(32)),
        "k=" + "v" * 256,
    ],
)
def test_valid_tracestates(value: str) -> None:
    check_tracestate(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (",".join(f"k{i}=v" for i in range(33)), "more than 32 members"),
        ("k=" + "v" * 257, "invalid value"),
        ("k=" + "v" * 250 + "," + "j=" + "v" * 260, "longer than 512"),
        ("Rojo=1", "key=value"),
        ("9rojo=1", "key=value"),
        ("rojo", "key=value"),
        ("rojo=", "invalid value"),
        ("rojo=a,b", "key=value"),
        ("rojo=a\tb", "invalid value"),
        ("rojo=é", "invalid value"),
        ("rojo=a=b", "invalid value"),
        ("rojo=1,rojo=2", "repeats a key"),
        ("t@Vendor=1", "key=value"),
        ("t@vendorvendorvendor=1", "key=value"),
        ("rojo=1\n", "invalid value"),
    ],
)
def test_invalid_tracestates(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_tracestate(value)


@pytest.mark.parametrize(
    ("trace", "problem"),
    [
        ({"baggage": "patient=John Smith"}, "only traceparent and tracestate"),
        ({"traceparent": PARENT, "note": "x"}, "only traceparent and tracestate"),
        ({"tracestate": "rojo=1"}, "only allowed with a traceparent"),
        ({"traceparent": "John Smith"}, "traceparent must be"),
        ({"traceparent": PARENT, "tracestate": "note=John Smith,ssn"}, "tracestate member 2"),
        ([PARENT], "trace must be an object"),
    ],
)
def test_envelopes_with_other_trace_content_are_refused(trace: object, problem: str) -> None:
    text = reason(trace=trace)
    assert problem in text and "John" not in text


@pytest.mark.parametrize("field", ["message_id", "correlation_id", "in_reply_to"])
@pytest.mark.parametrize("value", ["", "John Smith", "a" * 65, "ssn:123-45-6789", "é", "a\n"])
def test_ids_follow_the_id_grammar(field: str, value: str) -> None:
    text = reason(**{field: value})
    assert field in text and "John" not in text


@pytest.mark.parametrize("value", ["a" * 15, "a" * 65, "John Smith 123456789", "a" * 20 + "."])
def test_nonces_follow_the_nonce_grammar(value: str) -> None:
    assert "nonce" in reason(nonce=value)


def test_ids_of_the_full_length_and_alphabet_are_accepted() -> None:
    parse_envelope(
        envelope_bytes(
            message_id="A-z_0" * 12 + "abcd",
            correlation_id="x",
            in_reply_to="-",
            nonce="n" * 16,
        )
    )


def test_sdk_envelopes_conform() -> None:
    for _ in range(200):
        envelope = Envelope(sender_id="a", target_id="b", message_type="t")
        assert parse_envelope(dumps(envelope.model_dump(mode="json"))) == envelope


def _under_span(state: TraceState) -> dict[str, str]:
    span = NonRecordingSpan(
        SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
            trace_state=state,
        )
    )
    with_span = trace.set_span_in_context(span)
    token = context.attach(baggage.set_baggage("patient", "John Smith", with_span))
    try:
        return current_trace_context()
    finally:
        context.detach(token)


def test_an_opentelemetry_injected_context_passes_and_baggage_stays_home() -> None:
    carrier = _under_span(TraceState([("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]))
    assert set(carrier) == {"traceparent", "tracestate"}
    assert carrier["traceparent"] == PARENT
    envelope = Envelope(sender_id="a", target_id="b", message_type="t", trace=carrier)
    raw = dumps(envelope.model_dump(mode="json"))
    assert parse_envelope(raw).trace == carrier
    assert b"John" not in raw


def test_the_sdk_producer_span_context_is_accepted(spans: object) -> None:
    with producer_span("a", "b", "t"):
        carrier = current_trace_context()
    assert "traceparent" in carrier
    Envelope(sender_id="a", target_id="b", message_type="t", trace=carrier)


def test_an_empty_context_is_accepted() -> None:
    envelope = Envelope(sender_id="a", target_id="b", message_type="t", trace={})
    assert json.loads(dumps(envelope.model_dump(mode="json")))["trace"] == {}
