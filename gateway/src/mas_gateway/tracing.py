"""OpenTelemetry for the gateway: one span per message, continued from the sender's trace.

The sender's W3C trace context travels in `Envelope.trace`; the gateway's span is
its child, each stage is a child span of that, and the delivered envelope carries
the gateway span's context on to the receiver. Attribute names follow the
messaging semantic conventions. Without a configured SDK all of this is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mas import keys

from .context import MessageContext

__all__ = ["end_message_span", "inject_trace", "stage_span", "start_message_span"]

_tracer = trace.get_tracer("mas_gateway")
_propagator = TraceContextTextMapPropagator()


def start_message_span(ctx: MessageContext) -> None:
    """Open the message's gateway span, parented by the sender's trace when it sent one."""
    envelope = ctx.envelope
    parent = _propagator.extract(carrier=dict(envelope.trace)) if envelope else None
    name = f"process {envelope.message_type}" if envelope else "process malformed"
    span = _tracer.start_span(name, context=parent, kind=SpanKind.CONSUMER)
    span.set_attribute("messaging.system", "redis")
    span.set_attribute("messaging.operation.type", "process")
    span.set_attribute("messaging.consumer.group.name", keys.GATEWAY_GROUP)
    span.set_attribute("messaging.message.id", ctx.message_id or ctx.entry_id)
    if envelope is not None:
        span.set_attribute("messaging.destination.name", keys.agent_stream(envelope.target_id))
        span.set_attribute("mas.sender", envelope.sender_id)
        span.set_attribute("mas.target", envelope.target_id)
        span.set_attribute("mas.message_type", envelope.message_type)
    ctx.span = span


@contextmanager
def stage_span(ctx: MessageContext, stage: str) -> Iterator[Span | None]:
    """A child span of the message span for one stage (nothing when tracing is off)."""
    if ctx.span is None or not ctx.span.is_recording():
        yield None  # a no-op span per stage would cost more than the stage itself
        return
    parent = trace.set_span_in_context(ctx.span)
    with _tracer.start_as_current_span(f"gateway.{stage}", context=parent) as span:
        yield span


def end_message_span(ctx: MessageContext) -> None:
    """Record the decision on the message span and close it."""
    span = ctx.span
    if span is None:
        return
    if ctx.withheld:  # DLP found sensitive data in these fields: the span keeps none of it
        if "message_type" in ctx.withheld:
            span.update_name("process withheld")
            span.set_attribute("mas.message_type", "withheld")
        if "message_id" in ctx.withheld:
            span.set_attribute("messaging.message.id", ctx.entry_id)
    span.set_attribute("mas.decision", ctx.decision or "unknown")
    if ctx.rejection is not None:
        span.set_attribute("mas.rejection.code", ctx.rejection.code)
        span.set_status(Status(StatusCode.ERROR, f"rejected {ctx.rejection.code}"))
    span.end()
    ctx.span = None


def inject_trace(ctx: MessageContext) -> dict[str, str]:
    """W3C trace headers of the gateway span, for the delivered envelope."""
    carrier: dict[str, str] = {}
    if ctx.span is not None:
        _propagator.inject(carrier, context=trace.set_span_in_context(ctx.span))
    return carrier
