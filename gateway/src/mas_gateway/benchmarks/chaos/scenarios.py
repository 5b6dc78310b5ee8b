"""The catalog of chaos scenarios: which fault, how long, on what Redis durability.

Durations of gateway and receiver stalls are relative to their claim idle time
(a stall shorter than it must not cause a takeover; a longer one must be survived
by the peer taking over); Redis outages and stalls last a fixed time.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass

from .faults import (
    Fault,
    kill_gateway,
    kill_receiver,
    restart_redis,
    stall_redis,
    stop_gateway,
    stop_receiver,
    stop_redis,
)
from .redis_server import AppendFsync
from .stack import ChaosStack, StackConfig

__all__ = ["SCENARIOS", "Scenario", "scenario_named"]


@dataclass(frozen=True)
class Scenario:
    """One fault injected while traffic flows."""

    name: str
    summary: str
    inject: Callable[[ChaosStack, float], Fault]
    """Inject the fault (given its duration in seconds); return when it is over."""
    duration: Callable[[StackConfig], float] = lambda _cfg: 0.0
    """The fault's duration for a stack configuration."""
    appendfsync: AppendFsync = "always"


def _gw_idle(cfg: StackConfig) -> float:
    return cfg.gateway_claim_idle_ms / 1000


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("gateway-kill", "SIGKILL of a gateway mid-batch", lambda s, _d: kill_gateway(s)),
    Scenario(
        "gateway-stop-short",
        "SIGSTOP/SIGCONT of a gateway mid-batch, half its claim idle time",
        stop_gateway,
        lambda c: _gw_idle(c) / 2,
    ),
    Scenario(
        "gateway-stop-long",
        "SIGSTOP/SIGCONT of a gateway mid-batch, twice its claim idle time",
        stop_gateway,
        lambda c: _gw_idle(c) * 2,
    ),
    Scenario(
        "receiver-kill",
        "SIGKILL of a receiver instance holding deliveries",
        lambda s, _d: kill_receiver(s),
    ),
    Scenario(
        "receiver-stop",
        "SIGSTOP/SIGCONT of a receiver instance, twice its claim idle time",
        stop_receiver,
        lambda c: c.receiver_claim_idle_s * 2,
    ),
    Scenario(
        "redis-term-always",
        "Redis SIGTERM + restart, appendfsync always",
        lambda s, _d: restart_redis(s, signal.SIGTERM),
    ),
    Scenario(
        "redis-kill-always",
        "Redis SIGKILL + restart, appendfsync always",
        lambda s, _d: restart_redis(s, signal.SIGKILL),
    ),
    Scenario(
        "redis-term-everysec",
        "Redis SIGTERM + restart, appendfsync everysec",
        lambda s, _d: restart_redis(s, signal.SIGTERM),
        appendfsync="everysec",
    ),
    Scenario(
        "redis-kill-everysec",
        "Redis SIGKILL + restart, appendfsync everysec",
        lambda s, _d: restart_redis(s, signal.SIGKILL),
        appendfsync="everysec",
    ),
    Scenario(
        "redis-outage",
        "Redis stopped for 10 s, then restarted (appendfsync always)",
        stop_redis,
        lambda _c: 10.0,
    ),
    Scenario(
        "redis-stall",
        "redis-server SIGSTOPped for 6 s, then SIGCONT",
        stall_redis,
        lambda _c: 6.0,
    ),
)


def scenario_named(name: str) -> Scenario:
    """The scenario called `name`; `KeyError` listing the known ones."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(
        f"unknown chaos scenario {name!r}; known: {', '.join(s.name for s in SCENARIOS)}"
    )
