"""What the MAS service has seen, counted in plain numbers (exported by `mas.service.ops`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ops.readiness import Progress
from ..records import Status

__all__ = ["LOOPS", "ServiceStats", "status_label"]

LOOPS = ("health_check", "event_relay")
"""The service's loops, as readiness checks and metric labels name them."""

_STATUSES = frozenset(s.value for s in Status)


def status_label(raw: str | None) -> str:
    """A profile's status as a bounded label: a known status, ``none`` or ``other``."""
    if raw is None:
        return "none"
    return raw if raw in _STATUSES else "other"


@dataclass
class ServiceStats:
    """Counters and gauges of one service process (no agent id, no event content)."""

    agents: dict[str, int] = field(default_factory=dict)
    """Registered agents by `status_label` (or ``unreadable``), as of the last completed check."""
    agents_alive: int = 0
    """Agents with a live heartbeat key, as of the last completed check."""
    heartbeats_seen: int = 0
    checks: int = 0
    marked_inactive: int = 0
    events_relayed: int = 0
    events_dropped: int = 0
    progress: dict[str, Progress] = field(
        default_factory=lambda: {loop: Progress() for loop in LOOPS}
    )
