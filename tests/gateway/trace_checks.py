"""Checks of one message's trace, on spans from any source (in memory or OTLP)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mas import keys
from mas_gateway.settings import DEFAULT_STAGES


@dataclass(frozen=True)
class SpanRecord:
    """What the checks read of a span."""

    name: str
    kind: str
    trace_id: bytes
    span_id: bytes
    parent_id: bytes | None
    attributes: Mapping[str, Any]


def from_sdk(spans: Iterable[Any]) -> list[SpanRecord]:
    """Records of finished SDK spans."""
    return [
        SpanRecord(
            name=s.name,
            kind=s.kind.name,
            trace_id=s.context.trace_id.to_bytes(16, "big"),
            span_id=s.context.span_id.to_bytes(8, "big"),
            parent_id=s.parent.span_id.to_bytes(8, "big") if s.parent else None,
            attributes=dict(s.attributes or {}),
        )
        for s in spans
    ]


def _one(spans: list[SpanRecord], name: str, **attributes: Any) -> SpanRecord:
    found = [
        s
        for s in spans
        if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, f"{len(found)} span(s) {name} {attributes}: {[s.name for s in spans]}"
    return found[0]


def _messaging(span: SpanRecord, operation: str, destination: str) -> None:
    assert span.attributes["messaging.system"] == "redis"
    assert span.attributes["messaging.operation.name"] == operation
    assert span.attributes["messaging.operation.type"] == operation
    assert span.attributes["messaging.destination.name"] == destination


def assert_message_trace(
    spans: list[SpanRecord],
    sender: str,
    target: str,
    message_type: str,
    *,
    stages: Iterable[str] = DEFAULT_STAGES,
    secret: str | None = None,
) -> None:
    """One trace: sender's send → gateway process, every stage, commit, send → receiver."""
    outbox, inbox = keys.agent_outbox(sender), keys.agent_stream(target)
    identity = {"mas.sender": sender, "mas.target": target, "mas.message_type": message_type}
    send = _one(spans, f"send {outbox}", **identity)
    gateway = _one(spans, f"process {outbox}", **identity, **{"mas.decision": "delivered"})
    delivery = _one(spans, f"send {inbox}", **identity)
    receiver = _one(spans, f"process {inbox}", **identity)
    assert (send.kind, gateway.kind) == ("PRODUCER", "CONSUMER")
    assert (delivery.kind, receiver.kind) == ("PRODUCER", "CONSUMER")
    _messaging(send, "send", outbox)
    _messaging(gateway, "process", outbox)
    _messaging(delivery, "send", inbox)
    _messaging(receiver, "process", inbox)
    message_id = send.attributes["messaging.message.id"]
    for span in (gateway, delivery, receiver):
        assert span.attributes["messaging.message.id"] == message_id
    assert gateway.parent_id == send.span_id
    children = {s.name: s for s in spans if s.parent_id == gateway.span_id}
    assert {f"gateway.{stage}" for stage in stages} | {"gateway.commit"} <= set(children)
    commit = children["gateway.commit"]
    assert commit.attributes["mas.committed"] is True
    assert delivery.parent_id == commit.span_id
    assert receiver.parent_id == delivery.span_id
    ours = [send, gateway, delivery, receiver, *children.values()]
    assert {s.trace_id for s in ours} == {send.trace_id}, "one trace from sender to receiver"
    if secret is not None:
        values = [str(v) for s in spans for v in s.attributes.values()]
        assert not [v for v in values if secret in v], "a payload value is in an attribute"
