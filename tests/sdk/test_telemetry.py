"""Trace context travels in the envelope: the receiver's span continues the sender's trace."""

from __future__ import annotations

import json
import subprocess
import sys

import redis.asyncio as aioredis
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mas import Agent, AgentMessage, keys
from mas.envelope import parse_envelope

from .conftest import FAST, DeliverySigner


class Receiver(Agent):
    @Agent.on("traced")
    async def traced(self, message: AgentMessage, payload: None) -> None:
        trace.get_current_span().set_attribute("test.handled", True)


async def test_consumer_span_continues_sender_trace(
    sdk_env: str,
    gateway: DeliverySigner,
    redis_client: aioredis.Redis,
    spans: InMemorySpanExporter,
) -> None:
    async with Agent("sender", **FAST) as sender, Receiver("receiver", **FAST) as receiver:
        await sender.send("receiver", "traced", {"x": 1})
        [(_, submission)] = await redis_client.xrange(keys.agent_outbox("sender"))
        envelope = parse_envelope(submission[b"envelope"])
        assert "traceparent" in envelope.trace
        await redis_client.xadd(keys.agent_stream("receiver"), gateway.fields(envelope))  # type: ignore[arg-type]
        await receiver.wait_idle()
    finished = {span.name: span for span in spans.get_finished_spans()}
    producer = finished[f"send {keys.agent_outbox('sender')}"]
    consumer = finished[f"process {keys.agent_stream('receiver')}"]
    assert producer.kind is SpanKind.PRODUCER and consumer.kind is SpanKind.CONSUMER
    assert consumer.context is not None and producer.context is not None
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.parent is not None and consumer.parent.span_id == producer.context.span_id
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.message.id"] == envelope.message_id
    assert producer.attributes is not None
    for span, operation in ((producer, "send"), (consumer, "process")):
        assert span.attributes is not None
        assert span.attributes["messaging.system"] == "redis"
        assert span.attributes["messaging.operation.name"] == operation
        assert span.attributes["mas.sender"] == "sender"
        assert span.attributes["mas.target"] == "receiver"
        assert span.attributes["mas.message_type"] == "traced"
    assert consumer.attributes["test.handled"] is True


_TRACING_OFF = """
import json
from mas.envelope import Envelope
from mas.telemetry import consumer_span, current_trace_context, producer_span, tracing_enabled

SENDER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
GATEWAY = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
env = Envelope(sender_id="a", target_id="b", message_type="t", trace={"traceparent": SENDER})
seen = {"enabled": tracing_enabled()}
with consumer_span(env, "agents", {"traceparent": GATEWAY, "tracestate": "v=1"}) as span:
    seen["recording"] = span.is_recording()
    with producer_span("b", "a", "t") as inner:
        seen["inner_recording"] = inner.is_recording()
        seen["reply"] = current_trace_context()
with consumer_span(env, "agents", {}):
    seen["from_sender"] = current_trace_context()
seen["outside"] = current_trace_context()
print(json.dumps(seen))
"""


def test_without_a_tracer_provider_no_span_is_built_and_replies_carry_the_trace() -> None:
    # A fresh interpreter: no test of this process has installed a tracer provider there.
    done = subprocess.run(
        [sys.executable, "-c", _TRACING_OFF], capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["enabled"] is False
    assert seen["recording"] is False and seen["inner_recording"] is False
    assert seen["reply"] == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
        "tracestate": "v=1",
    }
    assert seen["from_sender"] == {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    }
    assert seen["outside"] == {}
