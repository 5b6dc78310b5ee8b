"""OpenTelemetry (API only): trace context into envelopes on send, consumer spans on handling.

Span names and attributes follow the messaging semantic conventions: ``send {outbox}``
(producer) and ``process {inbox}`` (consumer), with the ``mas.*`` attributes the gateway
uses too (see ARCHITECTURE.md, Observability). No payload value is ever an attribute.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

from . import keys
from .envelope import Envelope
from .tracecontext import TRACE_KEYS, check_trace

__all__ = ["consumer_span", "current_trace_context", "messaging_attributes", "producer_span"]

_tracer = trace.get_tracer("mas")


def messaging_attributes(operation: str, operation_type: str, destination: str) -> dict[str, str]:
    """The messaging semantic-convention attributes every MAS span carries."""
    return {
        "messaging.system": "redis",
        "messaging.operation.name": operation,
        "messaging.operation.type": operation_type,
        "messaging.destination.name": destination,
    }


def current_trace_context() -> dict[str, str]:
    """W3C trace context (traceparent, tracestate) of the current span, for the envelope.

    Other propagated headers (baggage, vendor formats) are not sent: the gateway accepts
    only the W3C grammar. A context that breaks it is dropped (tracing is best effort).
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    context = {k: v for k, v in carrier.items() if k in TRACE_KEYS}
    try:
        check_trace(context)
    except ValueError:
        context.pop("tracestate", None)
        try:
            check_trace(context)
        except ValueError:
            return {}
    return context


@contextmanager
def producer_span(sender_id: str, target_id: str, message_type: str) -> Iterator[Span]:
    """Span ``send {outbox}`` around submitting one message to the gateway."""
    outbox = keys.agent_outbox(sender_id)
    with _tracer.start_as_current_span(
        f"send {outbox}",
        kind=SpanKind.PRODUCER,
        attributes={
            **messaging_attributes("send", "send", outbox),
            "mas.sender": sender_id,
            "mas.target": target_id,
            "mas.message_type": message_type,
        },
    ) as span:
        yield span


@contextmanager
def consumer_span(
    envelope: Envelope, consumer_group: str, gateway_trace: Mapping[str, str] | None = None
) -> Iterator[Span]:
    """Span ``process {inbox}`` around handling one delivery: a child of the gateway's
    delivery span when it sent its context, else of the sender's context in the envelope."""
    parent = propagate.extract(dict(gateway_trace or envelope.trace))
    inbox = keys.agent_stream(envelope.target_id)
    attributes: dict[str, str] = {
        **messaging_attributes("process", "process", inbox),
        "messaging.consumer.group.name": consumer_group,
        "messaging.message.id": envelope.message_id,
        "mas.sender": envelope.sender_id,
        "mas.target": envelope.target_id,
        "mas.message_type": envelope.message_type,
    }
    if envelope.correlation_id:
        attributes["messaging.message.conversation_id"] = envelope.correlation_id
    with _tracer.start_as_current_span(
        f"process {inbox}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        yield span
