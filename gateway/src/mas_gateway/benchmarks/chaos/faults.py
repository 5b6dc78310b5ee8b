"""The faults a scenario injects while traffic flows; each returns when the fault is over.

A process is frozen (SIGSTOP) only at a moment it holds entries it read but has not
finished, so that killing or stalling it strands real work, as a crash mid-batch
would. Killed processes are restarted at once, as a supervisor would.
"""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from mas import keys

from .polling import wait_for
from .procs import ManagedProcess
from .stack import BULK_RECEIVER, BULK_SENDER, ChaosStack

__all__ = [
    "Fault",
    "kill_gateway",
    "kill_receiver",
    "restart_redis",
    "stall_redis",
    "stop_gateway",
    "stop_receiver",
    "stop_redis",
]

_FREEZE_TRIES_S = 30.0
"""How long to keep trying to freeze a process while it holds entries."""


@dataclass
class Fault:
    """When a fault began and ended, and what it hit."""

    target: str
    started: float
    ended: float
    stranded: int = 0
    """Entries the faulted process held (read, not finished) when it was hit."""
    notes: list[str] = field(default_factory=list[str])

    @property
    def instance(self) -> str | None:
        """The receiver instance hit, if the target is one."""
        return (
            self.target.removeprefix("receiver-") if self.target.startswith("receiver-") else None
        )


def _held(stack: ChaosStack, proc: ManagedProcess) -> int:
    """Entries `proc` has read and not finished (its consumers' pending entries)."""
    try:
        if proc in stack.gateways:
            return stack.pending_of(
                keys.agent_outbox(BULK_SENDER), keys.GATEWAY_GROUP, f"{proc.name}-"
            )
        consumer = stack.inbox_consumer_of(proc.name.removeprefix("receiver-"))
        if consumer is None:
            return 0
        return stack.pending_of(keys.agent_stream(BULK_RECEIVER), keys.AGENTS_GROUP, consumer)
    except RedisError:
        return 0


def freeze_holding(stack: ChaosStack, proc: ManagedProcess) -> tuple[float, int]:
    """SIGSTOP `proc` at a moment it holds entries; (when frozen, entries held).

    A frozen process that holds nothing within a moment is let go and tried again;
    after `_FREEZE_TRIES_S` it stays frozen holding nothing (the report says so).
    """
    deadline = time.monotonic() + _FREEZE_TRIES_S
    while True:
        proc.send_signal(signal.SIGSTOP)
        frozen_at = time.time()
        try:
            wait_for(lambda: _held(stack, proc) > 0, 0.5, "entries")
            return frozen_at, _held(stack, proc)
        except TimeoutError:
            if time.monotonic() >= deadline:
                return frozen_at, 0
        proc.send_signal(signal.SIGCONT)
        time.sleep(random.uniform(0.05, 0.15))  # do not fall into step with its loop


def _kill(stack: ChaosStack, proc: ManagedProcess) -> Fault:
    frozen_at, held = freeze_holding(stack, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    ended = time.time()
    proc.restart("killed by the fault")
    fault = Fault(proc.name, frozen_at, ended, held)
    fault.notes.append(f"{proc.name} SIGKILLed holding {held} entries; restarted at once")
    return fault


def _stop(stack: ChaosStack, proc: ManagedProcess, seconds: float) -> Fault:
    frozen_at, held = freeze_holding(stack, proc)
    time.sleep(max(0.0, frozen_at + seconds - time.time()))  # the fault's duration
    proc.send_signal(signal.SIGCONT)
    fault = Fault(proc.name, frozen_at, time.time(), held)
    fault.notes.append(f"{proc.name} SIGSTOPped {seconds:.1f} s holding {held} entries")
    return fault


def kill_gateway(stack: ChaosStack) -> Fault:
    """SIGKILL the first gateway mid-batch."""
    return _kill(stack, stack.gateways[0])


def stop_gateway(stack: ChaosStack, seconds: float) -> Fault:
    """SIGSTOP the first gateway mid-batch for `seconds`, then SIGCONT."""
    return _stop(stack, stack.gateways[0], seconds)


def kill_receiver(stack: ChaosStack) -> Fault:
    """SIGKILL the first receiver instance while it holds deliveries."""
    return _kill(stack, stack.receivers[0])


def stop_receiver(stack: ChaosStack, seconds: float) -> Fault:
    """SIGSTOP the first receiver instance for `seconds`, then SIGCONT."""
    return _stop(stack, stack.receivers[0], seconds)


def restart_redis(stack: ChaosStack, sig: signal.Signals) -> Fault:
    """Stop Redis with `sig` and start it again on the same port and data directory."""
    return stop_redis(stack, 0.0, sig)


def stop_redis(stack: ChaosStack, seconds: float, sig: signal.Signals = signal.SIGTERM) -> Fault:
    """Stop Redis with `sig`, keep it down `seconds`, start it again; ends when it answers."""
    server = stack.redis
    assert server is not None
    started = time.time()
    server.stop(sig)
    time.sleep(max(0.0, started + seconds - time.time()))  # the outage's duration
    server.start()
    fault = Fault("redis", started, time.time())
    fault.notes.append(
        f"Redis {sig.name} (appendfsync {server.appendfsync}), down {fault.ended - started:.1f} s"
    )
    return fault


def stall_redis(stack: ChaosStack, seconds: float) -> Fault:
    """SIGSTOP redis-server for `seconds`, then SIGCONT."""
    server = stack.redis
    assert server is not None
    started = time.time()
    server.send_signal(signal.SIGSTOP)
    time.sleep(seconds)  # the stall's duration
    server.send_signal(signal.SIGCONT)
    fault = Fault("redis", started, time.time())
    fault.notes.append(f"redis-server SIGSTOPped {seconds:.1f} s")
    return fault
