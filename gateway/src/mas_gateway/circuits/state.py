"""The circuit state machine: closed → open → half-open → closed, from observed signals.

Pure functions over a `Circuit` (the hash ``mas.circuit:{target}``) and an
`Observation` (what Redis showed this poll). Handler outcomes come from the
target's health counters (ok, failed, dead), which only grow; the state keeps the
values last seen and works on the differences. Counters do not say in which order
outcomes happened within one poll, so a poll with any success breaks a run of
consecutive failures (the failure ratio still sees every failure).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from mas.redis_text import as_text

from ..policy.circuits import CircuitSpec

__all__ = ["STATES", "Circuit", "Observation", "step"]

STATES = ("closed", "open", "half_open")


@dataclass(frozen=True)
class Observation:
    """What one poll showed about a target."""

    ok: int
    failed: int
    """Failed and dead-lettered deliveries, as the target's counters show them."""
    live: bool
    backlog: int
    parked: int


@dataclass(frozen=True)
class Circuit:
    """One target's circuit, as stored in its hash (strings there, typed here)."""

    state: str = "closed"
    since: float = 0.0
    reason: str = ""
    trips: int = 0
    seen_ok: int = 0
    seen_failed: int = 0
    consecutive: int = 0
    window_start: float = 0.0
    window_calls: int = 0
    window_failures: int = 0
    probes: int = 0
    probe_ok: int = 0
    probe_failed: int = 0
    released: int = 0
    rev: str = ""

    @classmethod
    def from_hash(cls, raw: Mapping[bytes | str, bytes | str]) -> Circuit:
        """Parse the stored hash; unknown or unreadable fields take their defaults."""
        values = {as_text(k): as_text(v) for k, v in raw.items()}
        out: dict[str, object] = {}
        for name, default in cls.__dataclass_fields__.items():
            text = values.get(name)
            if text is None:
                continue
            kind = type(default.default)
            try:
                out[name] = kind(text) if kind is not str else text
            except ValueError:
                continue
        circuit = cls(**out)  # type: ignore[arg-type]
        return circuit if circuit.state in STATES else replace(circuit, state="closed")

    def to_fields(self) -> dict[str, str]:
        """The hash fields to write (everything but the revision, which the script bumps)."""
        return {
            name: str(getattr(self, name)) for name in self.__dataclass_fields__ if name != "rev"
        }

    def stored(self) -> bool:
        """True when the hash exists in Redis."""
        return self.rev != ""


def _delta(now: int, seen: int) -> int:
    """Growth of a counter; a counter that went down was reset (e.g. on re-provisioning)."""
    return max(0, now - seen if now >= seen else now)


def _structural(spec: CircuitSpec, obs: Observation) -> str | None:
    """A trip reason that outcomes cannot clear: no live instance, or too deep a backlog."""
    if spec.require_live and not obs.live:
        return "no live instance"
    if spec.max_backlog is not None and obs.backlog > spec.max_backlog:
        return f"inbox backlog {obs.backlog} over its limit {spec.max_backlog}"
    return None


def _failing(spec: CircuitSpec, circuit: Circuit) -> str | None:
    if spec.consecutive_failures is not None and circuit.consecutive >= spec.consecutive_failures:
        return f"{circuit.consecutive} consecutive failed deliveries"
    ratio = spec.failure_ratio
    if (
        ratio is not None
        and circuit.window_calls >= ratio.min_calls
        and circuit.window_failures >= ratio.ratio * circuit.window_calls
    ):
        return (
            f"{circuit.window_failures} of {circuit.window_calls} deliveries failed "
            f"within {ratio.interval_s:g} s"
        )
    return None


def _open(circuit: Circuit, now: float, reason: str) -> Circuit:
    return replace(
        circuit, state="open", since=now, reason=reason, trips=circuit.trips + 1, probes=0
    )


def _count(circuit: Circuit, spec: CircuitSpec, obs: Observation, now: float) -> Circuit:
    """Fold this poll's handler outcomes into the run of failures and the ratio window."""
    ok = _delta(obs.ok, circuit.seen_ok)
    failed = _delta(obs.failed, circuit.seen_failed)
    consecutive = 0 if ok else circuit.consecutive + failed
    start, calls, failures = circuit.window_start, circuit.window_calls, circuit.window_failures
    interval = spec.failure_ratio.interval_s if spec.failure_ratio is not None else 0.0
    if now - start >= interval:
        start, calls, failures = now, 0, 0
    return replace(
        circuit,
        seen_ok=obs.ok,
        seen_failed=obs.failed,
        consecutive=consecutive,
        window_start=start,
        window_calls=calls + ok + failed,
        window_failures=failures + failed,
        probe_ok=circuit.probe_ok + ok,
        probe_failed=circuit.probe_failed + failed,
    )


def step(circuit: Circuit, spec: CircuitSpec | None, obs: Observation, now: float) -> Circuit:
    """The circuit after this poll. Without settings (`spec` None) a circuit is closed."""
    if spec is None:
        return replace(circuit, state="closed", reason="", seen_ok=obs.ok, seen_failed=obs.failed)
    counted = _count(circuit, spec, obs, now)
    structural = _structural(spec, obs)
    if counted.state == "closed":
        reason = structural or _failing(spec, counted)
        return _open(counted, now, reason) if reason else counted
    if counted.state == "open":
        if structural is not None:
            return replace(counted, reason=structural)
        if now - counted.since < spec.open_s:
            return counted
        return replace(
            counted,
            state="half_open",
            since=now,
            probes=0,
            probe_ok=0,
            probe_failed=0,
            consecutive=0,
            window_start=now,
            window_calls=0,
            window_failures=0,
        )
    # half-open: parked messages are released as probes, at most `half_open_probes`
    if structural is not None:
        return _open(counted, now, structural)
    if counted.probe_failed:
        return _open(counted, now, "a probe delivery failed while half-open")
    probed = counted.probes > 0 and counted.probe_ok >= counted.probes
    nothing_to_probe = counted.probes == 0 and obs.parked == 0
    if probed or nothing_to_probe:
        return replace(counted, state="closed", since=now, reason="", consecutive=0)
    return counted
