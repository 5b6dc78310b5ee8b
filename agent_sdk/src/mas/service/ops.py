"""The MAS service's operations endpoints: ``/healthz``, ``/readyz`` and ``/metrics``.

Readiness: Redis answers, no loop died, and both loops (health check, event relay)
completed a round within ``ready_stall_s``. Metrics come from `ServiceStats`; labels
are statuses, loop names and event outcomes only (never an agent id or an event).
Needs the ``mas-agent-sdk[ops]`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..ops.http import OpsHttpServer
from ..ops.readiness import ReadinessReport, ping_problem, stall_problem
from .stats import LOOPS

if TYPE_CHECKING:
    from .monitor import MASService

__all__ = ["ServiceCollector", "service_ops_server", "service_readiness"]


async def service_readiness(service: MASService) -> ReadinessReport:
    """Redis, the loops' liveness and how recently each completed a round."""
    checks: dict[str, str | None] = {"redis": await ping_problem(service.redis)}
    failure = service.failure
    checks["loops"] = str(failure) if failure is not None else None
    for loop in LOOPS:
        checks[loop] = stall_problem(
            loop.replace("_", " "), service.stats.progress[loop], service.ready_stall_s
        )
    return ReadinessReport(checks)


class ServiceCollector(Collector):
    """Reads a service's `ServiceStats` at each scrape."""

    def __init__(self, service: MASService) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        """The service's metric families."""
        service = self._service
        stats = service.stats
        agents = GaugeMetricFamily(
            "mas_service_agents",
            "Registered agents by profile status, as of the last health check",
            labels=["status"],
        )
        for status, count in sorted(stats.agents.items()):
            agents.add_metric([status], count)
        yield agents
        yield GaugeMetricFamily(
            "mas_service_agents_alive",
            "Agents with a live heartbeat, as of the last health check",
            value=stats.agents_alive,
        )
        yield CounterMetricFamily(
            "mas_service_heartbeats_seen",
            "Live heartbeats found, summed over health checks",
            value=stats.heartbeats_seen,
        )
        yield CounterMetricFamily(
            "mas_service_checks", "Health-check rounds completed", value=stats.checks
        )
        yield CounterMetricFamily(
            "mas_service_marked_inactive",
            "Agents marked INACTIVE after their heartbeat lapsed",
            value=stats.marked_inactive,
        )
        events = CounterMetricFamily(
            "mas_service_events",
            "Agent registry events handled by the relay, by outcome",
            labels=["outcome"],
        )
        events.add_metric(["relayed"], stats.events_relayed)
        events.add_metric(["dropped"], stats.events_dropped)
        yield events
        yield GaugeMetricFamily(
            "mas_service_up",
            "1 while no loop of the service has died",
            value=0 if service.failure is not None else 1,
        )
        age = GaugeMetricFamily(
            "mas_service_loop_round_age_seconds",
            "Seconds since each loop last completed a round",
            labels=["loop"],
        )
        for loop in LOOPS:
            age.add_metric([loop], stats.progress[loop].age())
        yield age


def service_ops_server(service: MASService) -> OpsHttpServer:
    """A server (not yet started) for `service`'s endpoints on its ``http_address``."""
    assert service.http_address is not None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service))

    async def readiness() -> ReadinessReport:
        return await service_readiness(service)

    async def exposition() -> bytes:
        return generate_latest(registry)

    return OpsHttpServer(service.http_address, readiness, exposition)
