"""Figures of one benchmark path and scenario, computed from what the workers reported."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from .procstats import CpuSample
from .scenarios import Scenario

__all__ = ["PathResult", "ProcessFigure", "ScenarioResult", "latency_summary"]

Path = Literal["plain", "gateway"]


def latency_summary(latencies_ms: list[float]) -> dict[str, float] | None:
    """p50, p99, mean and max of latencies in milliseconds (None without any)."""
    if not latencies_ms:
        return None
    ordered = sorted(latencies_ms)
    if len(ordered) == 1:
        p50 = p99 = ordered[0]
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        p50, p99 = cuts[49], cuts[98]
    return {
        "p50": round(p50, 3),
        "p99": round(p99, 3),
        "mean": round(statistics.fmean(ordered), 3),
        "max": round(ordered[-1], 3),
    }


@dataclass(frozen=True)
class ProcessFigure:
    """CPU and peak memory of one process (or a gateway with its DLP workers)."""

    name: str
    role: str
    usage: CpuSample | None

    def as_dict(self, messages: int) -> dict[str, Any]:
        """JSON-ready figures; None where the process could not be measured."""
        figures = self.usage.as_dict(messages) if self.usage is not None else None
        return {"name": self.name, "role": role_label(self.role), "usage": figures}


def role_label(role: str) -> str:
    """The process role as shown ('sender', 'receiver', 'gateway', 'redis')."""
    return role.removeprefix("raw-")


@dataclass
class PathResult:
    """One path (plain streams or the gateway) of one scenario."""

    path: Path
    sent: int
    expected: int
    delivered: int
    duplicates: int
    unexpected: int
    redacted: int
    timed_out: bool
    started_at: float
    sent_at: float
    finished_at: float | None
    latencies_ms: list[float]
    refused: dict[str, int] = field(default_factory=dict[str, int])
    processes: list[ProcessFigure] = field(default_factory=list[ProcessFigure])

    @property
    def exactly_once(self) -> bool:
        """Every message sent arrived, none twice, nothing else arrived."""
        return (
            self.delivered == self.sent == self.expected
            and self.duplicates == 0
            and self.unexpected == 0
        )

    @property
    def elapsed_s(self) -> float | None:
        """From the first send to the last message received."""
        if self.finished_at is None:
            return None
        return max(self.finished_at - self.started_at, 1e-9)

    @property
    def msgs_per_s(self) -> float | None:
        """Messages received per second, first send to last receipt."""
        elapsed = self.elapsed_s
        return None if elapsed is None else self.delivered / elapsed

    @property
    def submit_msgs_per_s(self) -> float:
        """Messages the senders submitted per second."""
        return self.sent / max(self.sent_at - self.started_at, 1e-9)

    def problem(self) -> str | None:
        """What went wrong, in words, or None."""
        if self.exactly_once:
            return None
        what = "through the gateway" if self.path == "gateway" else "over plain streams"
        parts = [f"{self.delivered} of {self.sent} messages arrived {what}"]
        if self.timed_out:
            parts[0] += " before the timeout"
        if self.duplicates:
            parts.append(f"{self.duplicates} arrived twice")
        if self.unexpected:
            parts.append(f"{self.unexpected} unexpected deliveries")
        if self.refused:
            codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.refused.items()))
            parts.append(f"the gateway refused some (codes {codes})")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        rate, elapsed = self.msgs_per_s, self.elapsed_s
        measured = [p.usage for p in self.processes if p.usage is not None]
        cpu = sum(u.user_s + u.sys_s for u in measured)
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "redacted": self.redacted,
            "refused": dict(sorted(self.refused.items())),
            "exactly_once": self.exactly_once,
            "msgs_per_s": None if rate is None else round(rate, 1),
            "submit_msgs_per_s": round(self.submit_msgs_per_s, 1),
            "elapsed_s": None if elapsed is None else round(elapsed, 3),
            "latency_ms": latency_summary(self.latencies_ms),
            "cpu_us_per_msg_all_processes": round(cpu * 1e6 / self.delivered, 1)
            if self.delivered
            else None,
            "processes": [p.as_dict(self.delivered) for p in self.processes],
        }


@dataclass
class ScenarioResult:
    """Both paths of one scenario, or why it could not be measured."""

    scenario: Scenario
    registered: int = 0
    payload_bytes: int = 0
    processes: int = 1
    plain: PathResult | None = None
    gateway: PathResult | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """Gateway throughput as a fraction of the plain-stream baseline's."""
        if self.plain is None or self.gateway is None:
            return None
        plain, through = self.plain.msgs_per_s, self.gateway.msgs_per_s
        if not plain or through is None:
            return None
        return through / plain

    @property
    def ok(self) -> bool:
        """Both paths ran and delivered every message exactly once."""
        return (
            self.error is None
            and self.plain is not None
            and self.gateway is not None
            and self.plain.exactly_once
            and self.gateway.exactly_once
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        s = self.scenario
        ratio = self.ratio
        return {
            "name": s.name,
            "description": s.description,
            "config": {
                "messages": s.message_count,
                "agents": s.pairs * 2,
                "senders": s.pairs,
                "receivers": s.pairs,
                "registered_agents": self.registered,
                "gateway_processes": s.gateways,
                "payload_bytes": self.payload_bytes,
                "traffic": s.traffic,
                "offered_msgs_per_s": s.rate,
                "extra_policy_rules": s.policy_rules,
                "worker_processes_per_side": self.processes,
            },
            "plain": self.plain.as_dict() if self.plain else None,
            "gateway": self.gateway.as_dict() if self.gateway else None,
            "ratio_to_baseline": None if ratio is None else round(ratio, 3),
            "ok": self.ok,
            "error": self.error,
        }
