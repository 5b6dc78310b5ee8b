"""The circuit state machine, signal by signal (pure: no Redis)."""

from __future__ import annotations

from dataclasses import replace

from mas_gateway.circuits import Circuit, Observation, step
from mas_gateway.policy.circuits import CircuitSpec, FailureRatio

HEALTHY = Observation(ok=0, failed=0, live=True, backlog=0, parked=0)


def test_consecutive_failures_open_the_circuit() -> None:
    spec = CircuitSpec(consecutive_failures=3)
    circuit = step(Circuit(), spec, replace(HEALTHY, failed=2), now=10)
    assert circuit.state == "closed" and circuit.consecutive == 2
    circuit = step(circuit, spec, replace(HEALTHY, failed=3), now=11)
    assert circuit.state == "open" and circuit.trips == 1
    assert circuit.reason == "3 consecutive failed deliveries" and circuit.since == 11


def test_a_success_breaks_the_run_of_failures() -> None:
    spec = CircuitSpec(consecutive_failures=3)
    circuit = step(Circuit(), spec, replace(HEALTHY, failed=2), now=1)
    circuit = step(circuit, spec, replace(HEALTHY, ok=1, failed=3), now=2)
    assert circuit.state == "closed" and circuit.consecutive == 0


def test_the_failure_ratio_needs_its_minimum_of_calls_within_the_interval() -> None:
    spec = CircuitSpec(failure_ratio=FailureRatio(0.5, interval_s=10, min_calls=4))
    circuit = step(Circuit(), spec, replace(HEALTHY, ok=1, failed=2), now=100)
    assert circuit.state == "closed"  # 3 calls: below the minimum
    circuit = step(circuit, spec, replace(HEALTHY, ok=2, failed=2), now=105)
    assert circuit.state == "open" and "2 of 4 deliveries failed within 10 s" in circuit.reason
    later = step(Circuit(), spec, replace(HEALTHY, ok=1, failed=2), now=100)
    later = step(later, spec, replace(HEALTHY, ok=2, failed=3), now=111)  # a new window
    assert later.state == "closed" and later.window_calls == 2


def test_no_live_instance_opens_it_and_keeps_it_open() -> None:
    spec = CircuitSpec(require_live=True, open_s=1)
    down = replace(HEALTHY, live=False)
    circuit = step(Circuit(), spec, down, now=1)
    assert circuit.state == "open" and circuit.reason == "no live instance"
    assert step(circuit, spec, down, now=100).state == "open"  # open_s is over, still down
    assert step(circuit, spec, HEALTHY, now=100).state == "half_open"


def test_a_backlog_over_its_limit_opens_it() -> None:
    spec = CircuitSpec(max_backlog=10)
    assert step(Circuit(), spec, replace(HEALTHY, backlog=10), now=1).state == "closed"
    circuit = step(Circuit(), spec, replace(HEALTHY, backlog=11), now=1)
    assert circuit.state == "open" and circuit.reason == "inbox backlog 11 over its limit 10"


def test_half_open_closes_when_the_probes_succeed_and_reopens_when_one_fails() -> None:
    spec = CircuitSpec(consecutive_failures=1, open_s=5, half_open_probes=2)
    opened = step(Circuit(), spec, replace(HEALTHY, failed=1), now=0)
    assert step(opened, spec, replace(HEALTHY, failed=1, parked=9), now=4).state == "open"
    half = step(opened, spec, replace(HEALTHY, failed=1, parked=9), now=5)
    assert half.state == "half_open" and half.probes == 0
    probing = replace(half, probes=2)  # the release script counts the probes it moved
    waiting = step(probing, spec, replace(HEALTHY, ok=1, failed=1, parked=7), now=6)
    assert waiting.state == "half_open"
    closed = step(waiting, spec, replace(HEALTHY, ok=2, failed=1, parked=7), now=7)
    assert closed.state == "closed" and closed.reason == ""
    reopened = step(probing, spec, replace(HEALTHY, ok=1, failed=2, parked=7), now=6)
    assert reopened.state == "open" and reopened.trips == 2
    assert reopened.reason == "a probe delivery failed while half-open"


def test_half_open_with_nothing_to_probe_closes() -> None:
    spec = CircuitSpec(require_live=True, open_s=1)
    half = replace(Circuit(), state="half_open", since=1)
    assert step(half, spec, HEALTHY, now=2).state == "closed"


def test_reset_counters_are_growth_from_zero() -> None:
    spec = CircuitSpec(consecutive_failures=2)
    circuit = replace(Circuit(), seen_ok=50, seen_failed=40)
    circuit = step(circuit, spec, replace(HEALTHY, ok=0, failed=1), now=1)
    assert circuit.consecutive == 1 and circuit.seen_failed == 1


def test_the_stored_hash_round_trips_and_survives_nonsense() -> None:
    circuit = replace(Circuit(), state="open", since=3.5, reason="no live instance", trips=2)
    stored = {k.encode(): v.encode() for k, v in circuit.to_fields().items()} | {b"rev": b"7"}
    assert Circuit.from_hash(stored) == replace(circuit, rev="7")
    assert Circuit.from_hash({b"state": b"melted", b"trips": b"x"}) == Circuit()
