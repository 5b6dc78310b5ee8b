"""A process with its own OpenTelemetry setup: a gateway and two agents, one message.

Run as ``python otlp_traced.py REDIS_URL SECRET``; exports to whatever ``OTEL_*`` says.
"""

from __future__ import annotations

import asyncio
import sys

from mas import Agent, AgentMessage
from mas.otel_setup import configured_telemetry
from mas_gateway.devstack import DevStack


class Doctor(Agent):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("doctor", **kwargs)  # type: ignore[arg-type]
        self.handled = asyncio.Event()

    @Agent.on("consultation.request")
    async def consult(self, message: AgentMessage, payload: None) -> None:
        self.handled.set()


async def main(redis_url: str, secret: str) -> None:
    async with DevStack(redis_url=redis_url) as stack:
        doctor = Doctor(**stack.agent_options())
        async with doctor, Agent("patient", **stack.agent_options()) as patient:
            await patient.send("doctor", "consultation.request", {"q": secret})
            async with asyncio.timeout(60):
                await doctor.handled.wait()
            # for the metrics: one more delivered, one blocked by DLP
            await doctor.send("patient", "consultation.response", {"note": "rest"})
            await doctor.send("patient", "consultation.response", {"note": "SSN 123-45-6789"})
            assert stack.gateway is not None
            await stack.gateway.wait_idle()
            print(" ".join(stack.gateway.pipeline.names()), flush=True)


if __name__ == "__main__":
    with configured_telemetry("mas-trace-test") as telemetry:
        assert telemetry.providers, "OTEL_EXPORTER_OTLP_ENDPOINT asks for export"
        asyncio.run(main(sys.argv[1], sys.argv[2]))
