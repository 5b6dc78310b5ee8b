"""One trace per message: sender → gateway (a span per stage) → receiver."""

from __future__ import annotations

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mas import Agent, AgentMessage
from mas_gateway.devstack import DevStack


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
            await patient.send("doctor", "consultation.request", {"q": "cough"})
            assert stack.gateway is not None
            await stack.gateway.wait_idle()
            await doctor.wait_idle()
    finished = spans.get_finished_spans()
    by_name = {span.name: span for span in finished}
    send = by_name["send consultation.request"]
    gateway = [s for s in finished if s.name == "process consultation.request" and s.attributes
               and s.attributes.get("mas.decision") == "delivered"]  # fmt: skip
    assert len(gateway) == 1
    stages = {
        s.name for s in finished if s.parent and s.parent.span_id == gateway[0].context.span_id
    }  # type: ignore[union-attr]
    assert {"gateway.authn", "gateway.authz", "gateway.target", "gateway.ratelimit"} <= stages
    receiver = [
        s for s in finished if s.name == "process consultation.request" and s is not gateway[0]
    ]
    assert len(receiver) == 1
    trace_ids = {send.context.trace_id, gateway[0].context.trace_id, receiver[0].context.trace_id}  # type: ignore[union-attr]
    assert len(trace_ids) == 1, "sender, gateway and receiver share one trace"
    assert receiver[0].parent is not None
    assert receiver[0].parent.span_id == gateway[0].context.span_id  # type: ignore[union-attr]
    # The gateway's own trace context travels beside the envelope, so the sender's
    # signature over the envelope still verifies at the receiver.
    assert doctor.verified == [True]
