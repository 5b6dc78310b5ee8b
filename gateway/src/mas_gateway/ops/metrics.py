"""Prometheus metrics of one gateway process.

Counters and histograms are updated as batches are committed; the queue gauges
(outbox lag and pending, inbox depth, dead letters, checkpoint age) are read from
Redis when the metrics are scraped. Labels hold only bounded, non-sensitive
values: decision names, codes, stage names, policy rule texts, DLP entity types,
and the ids of the agents with the deepest inboxes (at most `TOP_AGENTS` of them,
the rest summed under ``_other``). Message ids, payloads and tokens never appear.

The decisions, stage latencies and DLP findings are recorded as OpenTelemetry
instruments too (meter ``mas_gateway``: ``mas.gateway.decisions``,
``mas.gateway.stage.duration``, ``mas.gateway.dlp.findings``), exported when a
meter provider is installed (``OTEL_METRICS_EXPORTER``, see `mas.otel_setup`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from opentelemetry import metrics as otel_metrics
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mas import keys

from ..audit.checkpoint import newest_checkpoint
from ..context import MessageContext
from ..outboxes import Outboxes

__all__ = ["TOP_AGENTS", "GatewayMetrics"]

TOP_AGENTS = 20
"""Agents named in per-agent gauges (the deepest inboxes); the rest are summed."""

_OTHER = "_other"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics:
    """The metrics of one gateway process, in a registry of their own."""

    def __init__(self, gateway_id: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "mas_gateway_decisions",
            "Committed gateway decisions.",
            ["decision", "code", "stage", "rule"],
            registry=r,
        )
        self.dlp_findings = Counter(
            "mas_gateway_dlp_findings",
            "Sensitive values found by DLP in committed messages, by entity type.",
            ["entity_type"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "mas_gateway_stage_seconds",
            "Time a stage took over one batch (prepare and every check).",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "mas_gateway_batch_seconds",
            "Time from reading a batch to its committed outcomes.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_messages = Histogram(
            "mas_gateway_batch_messages",
            "Messages per batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=r,
        )
        self.outbox_lag = Gauge(
            "mas_gateway_outbox_entries", "Entries waiting in all agents' outboxes.", registry=r
        )
        self.outbox_pending = Gauge(
            "mas_gateway_outbox_pending",
            "Outbox entries read by a gateway and not yet committed.",
            registry=r,
        )
        self.inbox_depth = Gauge(
            "mas_gateway_inbox_entries",
            f"Deliveries waiting in an agent's inbox (the {TOP_AGENTS} deepest; {_OTHER}: rest).",
            ["agent"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "mas_gateway_dead_letters",
            "Dead letters kept: the gateway's own (gateway) and the agents' (agents).",
            ["kind"],
            registry=r,
        )
        self.checkpoint_age = Gauge(
            "mas_gateway_audit_checkpoint_age_seconds",
            "Seconds since the newest signed audit checkpoint (-1: none yet).",
            registry=r,
        )
        self.policy = Gauge(
            "mas_gateway_policy_info",
            "The policy version in force in this process (value 1).",
            ["version"],
            registry=r,
        )
        self.up = Gauge(
            "mas_gateway_loops_up",
            "1 while every loop of the process runs, 0 once one ended (restart the process).",
            registry=r,
        )
        self.up.set(1)
        self.info = Gauge(
            "mas_gateway_info", "This gateway process (value 1).", ["gateway_id"], registry=r
        )
        self.info.labels(gateway_id=gateway_id).set(1)
        self._policy_version: str | None = None
        self._stage_children: dict[str, Histogram] = {}
        meter = otel_metrics.get_meter("mas_gateway")
        self._otel_decisions = meter.create_counter(
            "mas.gateway.decisions",
            unit="{message}",
            description="Committed gateway decisions (mas.decision, mas.code, mas.stage).",
        )
        self._otel_stage = meter.create_histogram(
            "mas.gateway.stage.duration",
            unit="s",
            description="Time a stage took over one batch (mas.stage).",
        )
        self._otel_findings = meter.create_counter(
            "mas.gateway.dlp.findings",
            unit="{finding}",
            description="Sensitive values found by DLP in committed messages "
            "(mas.dlp.entity_type).",
        )

    # -- updated as the gateway works ---------------------------------------------------
    def observe_stage(self, stage: str, seconds: float) -> None:
        """One stage's time over one batch."""
        child = self._stage_children.get(stage)
        if child is None:  # `labels` validates and locks on every call: once per stage
            child = self._stage_children[stage] = self.stage_seconds.labels(stage=stage)
        child.observe(seconds)
        self._otel_stage.record(seconds, {"mas.stage": stage})

    def observe_batch(self, contexts: Sequence[MessageContext], started: float) -> None:
        """A committed batch: its size and duration (`started` from `time.perf_counter`)."""
        self.batch_seconds.observe(time.perf_counter() - started)
        self.batch_messages.observe(len(contexts))

    def observe_decision(self, ctx: MessageContext) -> None:
        """One committed decision."""
        rejection = ctx.rejection
        code = str(rejection.code) if rejection is not None else "200"
        verdict = ctx.verdict
        stage = getattr(verdict, "stage", "") if verdict is not None else ""
        decision = ctx.decision or "unknown"
        self.decisions.labels(
            decision=decision, code=code, stage=stage, rule=ctx.authz_rule or ""
        ).inc()
        self._otel_decisions.add(
            1, {"mas.decision": decision, "mas.code": code, "mas.stage": stage}
        )
        for finding in ctx.dlp_findings:
            self.dlp_findings.labels(entity_type=finding.entity_type).inc()
            self._otel_findings.add(1, {"mas.dlp.entity_type": finding.entity_type})

    def set_policy(self, version: str) -> None:
        """The policy version now in force."""
        if version == self._policy_version:
            return
        if self._policy_version is not None:
            self.policy.remove(self._policy_version)
        self.policy.labels(version=version).set(1)
        self._policy_version = version

    # -- read from Redis when scraped ---------------------------------------------------
    async def refresh(self, client: aioredis.Redis, outboxes: Outboxes) -> None:
        """Read the queue gauges from Redis (one pipelined round trip, plus the checkpoint)."""
        agents = outboxes.agents
        async with client.pipeline(transaction=False) as pipe:
            for agent in agents:
                pipe.xlen(keys.agent_outbox(agent))
                pipe.xlen(keys.agent_stream(agent))
                pipe.xlen(keys.agent_dlq(agent))
            pipe.xlen(keys.DLQ)
            replies = await pipe.execute(raise_on_error=False)
        values = [int(v) if isinstance(v, int) else 0 for v in replies]
        outbox_total = sum(values[0:-1:3])
        inboxes = dict(zip(agents, values[1:-1:3], strict=True))
        self.outbox_lag.set(outbox_total)
        self.outbox_pending.set(await outboxes.pending_count())
        self._set_inboxes(inboxes)
        self.dead_letters.labels(kind="agents").set(sum(values[2:-1:3]))
        self.dead_letters.labels(kind="gateway").set(values[-1])
        stored = await newest_checkpoint(client)
        self.checkpoint_age.set(
            max(0.0, time.time() - stored.checkpoint.time) if stored is not None else -1
        )

    def _set_inboxes(self, depths: dict[str, int]) -> None:
        self.inbox_depth.clear()
        ranked = sorted(depths.items(), key=lambda item: (-item[1], item[0]))
        for agent, depth in ranked[:TOP_AGENTS]:
            self.inbox_depth.labels(agent=agent).set(depth)
        self.inbox_depth.labels(agent=_OTHER).set(sum(d for _, d in ranked[TOP_AGENTS:]))

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)
