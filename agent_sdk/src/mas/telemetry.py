"""OpenTelemetry (API only): trace context into envelopes on send, consumer spans on handling.

Span names and attributes follow the messaging semantic conventions: ``send {outbox}``
(producer) and ``process {inbox}`` (consumer), with the ``mas.*`` attributes the gateway
uses too (see ARCHITECTURE.md, Observability). No payload value is ever an attribute.

While no tracer provider is configured, no span (nor its attributes) is built: the
trace context of the message being handled is carried as it came (`incoming_trace`),
so that what the handler sends continues the same trace, as a no-op span would. A
span context the application made current itself still wins, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

from opentelemetry import propagate, trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind

from . import keys
from .envelope import Envelope
from .tracecontext import TRACE_KEYS, check_trace

__all__ = [
    "consumer_span",
    "current_trace_context",
    "incoming_trace",
    "messaging_attributes",
    "producer_span",
    "tracing_enabled",
]

_tracer = trace.get_tracer("mas")
_NO_SPAN: nullcontext[Span] = nullcontext(INVALID_SPAN)

incoming_trace: ContextVar[Mapping[str, str] | None] = ContextVar(
    "mas_incoming_trace", default=None
)
"""Trace context of the delivery being handled, while no tracer provider is configured."""


def tracing_enabled() -> bool:
    """Whether a tracer provider is configured (else spans are not built at all)."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


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
    if tracing_enabled() or trace.get_current_span().get_span_context().is_valid:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    else:
        carried = incoming_trace.get()
        if not carried:
            return {}
        carrier = dict(carried)
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


def producer_span(
    sender_id: str, target_id: str, message_type: str
) -> AbstractContextManager[Span]:
    """Span ``send {outbox}`` around submitting one message (a no-op while tracing is off)."""
    if not tracing_enabled():
        return _NO_SPAN
    return _producer_span(sender_id, target_id, message_type)


@contextmanager
def _producer_span(sender_id: str, target_id: str, message_type: str) -> Iterator[Span]:
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
    delivery span when it sent its context, else of the sender's context in the envelope.

    While tracing is off no span is built; the context is carried on (`incoming_trace`).
    """
    carried = gateway_trace or envelope.trace
    if not tracing_enabled():
        token = incoming_trace.set(carried)
        try:
            yield INVALID_SPAN
        finally:
            incoming_trace.reset(token)
        return
    parent = propagate.extract(dict(carried))
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
