"""One trace per message: sender → gateway (a span per stage, the commit) → receiver."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mas import Agent, AgentMessage
from mas.envelope import Envelope
from mas_gateway.context import MessageContext
from mas_gateway.devstack import DevStack
from mas_gateway.tracing import inject_trace

from .trace_checks import assert_message_trace, from_sdk


class Doctor(Agent):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("doctor", **kwargs)  # type: ignore[arg-type]
        self.verified: list[bool] = []

    @Agent.on("consultation.request")
    async def consult(self, message: AgentMessage, payload: None) -> None:
        self.verified.append(message.sender_verified)


async def test_trace_spans_sender_gateway_stages_and_receiver(
    redis_url: str, spans: InMemorySpanExporter
) -> None:
    async with DevStack(redis_url=redis_url) as stack:
        doctor = Doctor(**stack.agent_options())
        patient = Agent("patient", **stack.agent_options())
        async with doctor, patient:
            await patient.send("doctor", "consultation.request", {"q": "persistent cough"})
            assert stack.gateway is not None
            await stack.gateway.wait_idle()
            await doctor.wait_idle()
            stages = stack.gateway.pipeline.names()
    assert_message_trace(
        from_sdk(spans.get_finished_spans()),
        "patient",
        "doctor",
        "consultation.request",
        stages=stages,
        secret="persistent cough",
    )
    # The gateway's own trace context travels beside the envelope, so the sender's
    # signature over the envelope still verifies at the receiver.
    assert doctor.verified == [True]


async def test_the_gateway_spans_hold_no_envelope_field_dlp_withheld(
    redis_url: str, spans: InMemorySpanExporter
) -> None:
    secret = "123-45-6789"
    async with (
        DevStack(redis_url=redis_url) as stack,
        Agent("patient", **stack.agent_options()) as patient,
    ):
        await patient.send("doctor", f"patient.{secret}", {"q": "cough"})
        assert stack.gateway is not None
        await stack.gateway.wait_idle()
    gateway = [
        s
        for s in from_sdk(spans.get_finished_spans())
        if s.name.startswith("gateway.") or s.name.startswith("process agent.outbox")
    ]
    [message] = [s for s in gateway if s.kind == "CONSUMER"]
    assert message.attributes["mas.message_type"] == "withheld"
    assert message.attributes["mas.decision"] in {"blocked", "denied"}
    assert not [v for s in gateway for v in s.attributes.values() if secret in str(v)]


def test_without_spans_a_delivery_carries_the_sender_trace_context_on() -> None:
    """Tracing off (no span built): the stamp holds the sender's context, as before."""
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ctx = MessageContext(entry_id="1-0", fields={}, origin="patient")
    ctx.envelope = Envelope(
        sender_id="patient",
        target_id="doctor",
        message_type="consultation.request",
        trace={"traceparent": traceparent, "tracestate": "vendor=1"},
    )
    assert ctx.span is None
    assert inject_trace(ctx) == {"traceparent": traceparent, "tracestate": "vendor=1"}
    ctx.envelope = Envelope(sender_id="patient", target_id="doctor", message_type="x.y")
    assert inject_trace(ctx) == {}
