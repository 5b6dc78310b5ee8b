"""OpenTelemetry for the gateway: one trace per message, continued from the sender's.

The sender's W3C trace context travels in `Envelope.trace`. The gateway's span
``process {outbox}`` (CONSUMER) is its child; each stage (``gateway.parse``, ...) and
the commit (``gateway.commit``) are child spans of that; a forwarded message's
delivery is ``send {inbox}`` (PRODUCER, under the commit span), whose context the
delivered envelope carries on to the receiver. Names and attributes follow the
messaging semantic conventions; the ``mas.*`` attributes are those of the SDK.
Attributes hold identifiers and decisions only: never a payload value, a token, an
exception message or an envelope field DLP withheld. Without a configured SDK this
is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mas import keys
from mas.errors import MessageRejected
from mas.telemetry import messaging_attributes

from .context import MessageContext

__all__ = [
    "enabled",
    "end_commit_span",
    "end_message_span",
    "end_send_span",
    "inject_trace",
    "record_stage_span",
    "stage_span",
    "start_commit_span",
    "start_message_span",
    "start_send_span",
]

_tracer = trace.get_tracer("mas_gateway")
_propagator = TraceContextTextMapPropagator()
WITHHELD = "withheld"


def enabled() -> bool:
    """Whether a tracer provider is configured (the pipeline asks once per batch)."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def start_message_span(ctx: MessageContext, start_time: int | None = None) -> None:
    """Open the message's span, parented by the sender's trace when it sent one."""
    envelope = ctx.envelope
    parent = _propagator.extract(carrier=dict(envelope.trace)) if envelope else None
    outbox = ctx.outbox
    ctx.span = _tracer.start_span(
        f"process {outbox}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            **messaging_attributes("process", "process", outbox),
            "messaging.consumer.group.name": keys.GATEWAY_GROUP,
        },
        start_time=start_time,
    )


def _recording(span: Span | None) -> bool:
    return span is not None and span.is_recording()


@contextmanager
def stage_span(ctx: MessageContext, stage: str) -> Iterator[Span | None]:
    """A child span of the message span for one stage (nothing when tracing is off).

    A rejection sets the status to its code; no exception (its text may quote the
    message) is recorded.
    """
    if not _recording(ctx.span):
        yield None  # a no-op span per stage would cost more than the stage itself
        return
    with _tracer.start_as_current_span(
        f"gateway.{stage}",
        context=trace.set_span_in_context(ctx.span),
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except MessageRejected as rejection:
            _rejected(span, rejection.code)
            raise
        except Exception as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def record_stage_span(ctx: MessageContext, stage: str, start_time: int) -> None:
    """Record a stage that ran before the message span could be opened (parsing)."""
    if not _recording(ctx.span):
        return
    span = _tracer.start_span(
        f"gateway.{stage}", context=trace.set_span_in_context(ctx.span), start_time=start_time
    )
    if ctx.rejection is not None:
        _rejected(span, ctx.rejection.code)
    span.end()


def start_commit_span(ctx: MessageContext) -> None:
    """Open ``gateway.commit`` for one message, under its message span."""
    if _recording(ctx.span):
        ctx.commit_span = _tracer.start_span(
            "gateway.commit", context=trace.set_span_in_context(ctx.span)
        )


def start_send_span(ctx: MessageContext, destination: str) -> None:
    """Open ``send {destination}``, the delivery of a forwarded message (PRODUCER)."""
    end_send_span(ctx)
    parent = ctx.commit_span if ctx.commit_span is not None else ctx.span
    if not _recording(parent):
        return
    attributes = {
        **messaging_attributes("send", "send", destination),
        "messaging.message.id": ctx.message_id or ctx.entry_id,
        **_mas_attributes(ctx),
    }
    ctx.send_span = _tracer.start_span(
        f"send {destination}",
        context=trace.set_span_in_context(parent),
        kind=SpanKind.PRODUCER,
        attributes=attributes,
    )


def end_send_span(ctx: MessageContext, *, failed: bool = False) -> None:
    """Close the delivery span, if open (`failed`: no delivery was committed from it)."""
    span, ctx.send_span = ctx.send_span, None
    if span is not None:
        if failed:
            span.set_status(Status(StatusCode.ERROR, "not delivered"))
        span.end()


def end_commit_span(ctx: MessageContext, *, committed: bool) -> None:
    """Close the commit span (and the delivery span) with whether the commit took."""
    end_send_span(ctx, failed=not committed)
    span, ctx.commit_span = ctx.commit_span, None
    if span is not None:
        span.set_attribute("mas.committed", committed)
        if not committed:
            span.set_status(Status(StatusCode.ERROR, "not committed"))
        span.end()


def end_message_span(ctx: MessageContext) -> None:
    """Record the decision on the message span and close it (with any span still open)."""
    if ctx.commit_span is not None:
        end_commit_span(ctx, committed=False)
    end_send_span(ctx)
    span = ctx.span
    if span is None:
        return
    span.set_attributes(_mas_attributes(ctx))
    span.set_attribute("messaging.message.id", ctx.message_id or ctx.entry_id)
    span.set_attribute("mas.decision", ctx.decision or "unknown")
    if ctx.policy_version:
        span.set_attribute("mas.policy_version", ctx.policy_version)
    if ctx.rejection is not None:
        _rejected(span, ctx.rejection.code)
    span.end()
    ctx.span = None


def inject_trace(ctx: MessageContext) -> dict[str, str]:
    """W3C trace headers of the delivery span (else the message span), for the receiver.

    Without spans (tracing off) the sender's trace context, as the propagator reads it.
    """
    carrier: dict[str, str] = {}
    span = ctx.send_span if ctx.send_span is not None else ctx.span
    if span is not None:
        _propagator.inject(carrier, context=trace.set_span_in_context(span))
    elif ctx.envelope is not None and ctx.envelope.trace:
        _propagator.inject(carrier, context=_propagator.extract(carrier=dict(ctx.envelope.trace)))
    return carrier


def _mas_attributes(ctx: MessageContext) -> dict[str, str]:
    """``mas.sender`` / ``mas.target`` / ``mas.message_type``, withheld ones as such."""
    if ctx.envelope is None:
        return {"mas.sender": ctx.origin}
    return {
        "mas.sender": ctx.recordable("sender_id") or WITHHELD,
        "mas.target": ctx.recordable("target_id") or WITHHELD,
        "mas.message_type": ctx.recordable("message_type") or WITHHELD,
    }


def _rejected(span: Span, code: int) -> None:
    span.set_attribute("mas.rejection.code", code)
    span.set_status(Status(StatusCode.ERROR, f"rejected {code}"))
