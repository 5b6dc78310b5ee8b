"""Run one scenario on a stack: traffic, the fault, recovery, then the figures.

Order: a sender starts a run of `messages` at `rate`; once a fifth of them were
handled the fault is injected; the harness waits for the sender to finish, for
every acknowledged message to be handled (or a settle deadline), and for every
process to be at work again after the fault (or a deadline), restarting, as the
supervisor, any process that ended on its own. Nothing here fails fast: a
scenario always ends with its figures, and `ScenarioResult.problems` says what
went wrong.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from .faults import Fault
from .observe import AuditWatcher, dead_letters, delivered_ids, handled_records, sender_log
from .scenarios import Scenario
from .stack import ChaosStack

__all__ = ["ScenarioResult", "run_scenario"]

DUPLICATE_WINDOW_S = 1.0
"""A duplicate counts as the documented window (a process hit between its handler's
last effect and the acknowledgement) when the first handling was by the instance the
fault hit, at most this long before the fault began, or while it lasted."""


@dataclass
class ScenarioResult:
    """The figures of one scenario run."""

    scenario: str
    summary: str
    messages: int
    rate: float
    sent: int
    """send() returned: acknowledged to the sender."""
    send_failed: int
    delivered: int
    """Distinct messages the gateway put in the receiver's inbox (from the audit log)."""
    forwarded_twice: int
    handled: int
    """Distinct messages whose handler returned."""
    handled_unacknowledged: int
    """Of them, messages whose send() raised (the submission landed all the same)."""
    lost: int
    """Acknowledged to the sender, never handled."""
    duplicates: int
    """Extra handlings of a message id."""
    duplicates_outside_window: int
    dead_lettered: int
    stranded: int
    """Entries the faulted process held when it was hit."""
    fault_s: float
    recovery_s: float | None
    """From the end of the fault until a message was handled again."""
    caught_up_s: float | None
    """From the end of the fault until every message acknowledged before it was handled."""
    back_to_work: dict[str, bool]
    restarts: list[str]
    notes: list[str] = field(default_factory=list[str])
    lost_seqs: list[int] = field(default_factory=list[int])

    @property
    def problems(self) -> list[str]:
        """Why the scenario failed; empty when it passed."""
        out: list[str] = []
        if self.lost:
            out.append(f"{self.lost} acknowledged message(s) never handled")
        if self.duplicates_outside_window:
            out.append(f"{self.duplicates_outside_window} duplicate handling(s) outside the window")
        idle = [name for name, ok in self.back_to_work.items() if not ok]
        if idle:
            out.append(f"not back to work: {', '.join(idle)}")
        unexpected = [r for r in self.restarts if "on its own" in r]
        if unexpected:
            out.append(f"{len(unexpected)} process exit(s) the harness had to restart")
        return out

    @property
    def passed(self) -> bool:
        """No loss, no duplicate outside the window, every process at work, no crash."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        out = {k: v for k, v in self.__dict__.items() if k != "lost_seqs"}
        out["lost_seqs"] = self.lost_seqs[:50]
        out["passed"] = self.passed
        out["problems"] = self.problems
        return out


def _wait(stack: ChaosStack, done: Callable[[], bool], timeout: float, restarts: list[str]) -> bool:
    """Poll `done` until `timeout`, supervising the stack meanwhile; whether it came true."""
    deadline = time.monotonic() + timeout
    while True:
        restarts += stack.supervise()
        try:
            if done():
                return True
        except RedisError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def run_scenario(
    stack: ChaosStack,
    scenario: Scenario,
    *,
    messages: int,
    rate: float,
    settle_s: float = 60.0,
) -> ScenarioResult:
    """Run `scenario` with `messages` at `rate`/s on a started stack; its figures."""
    run = f"{scenario.name}-{uuid.uuid4().hex[:6]}"
    assert stack.redis is not None
    restarts: list[str] = stack.supervise()
    if stack.redis.appendfsync != scenario.appendfsync:
        stack.redis.set_appendfsync(scenario.appendfsync)
    watcher = AuditWatcher(stack)
    stack.send(run, messages, rate)
    sender = stack.sender()
    trigger = max(1, messages // 5)
    started = _wait(
        stack,
        lambda: sum(1 for h in handled_records(stack) if h.run == run) >= trigger,
        stack.config.start_timeout_s,
        restarts,
    )
    if not started:
        raise RuntimeError(f"no traffic flows before {scenario.name}:\n{sender.log_tail()}")
    fault = scenario.inject(stack, scenario.duration(stack.config))
    send_time = messages / rate + 60.0
    _wait(stack, lambda: sender_log(stack, run).done or not sender.running(), send_time, restarts)

    def all_handled() -> bool:
        done = {h.seq for h in handled_records(stack) if h.run == run}
        return set(sender_log(stack, run).acked) <= done

    _wait(stack, all_handled, settle_s, restarts)

    def at_work() -> bool:
        watcher.poll()
        return all(_back_to_work(stack, watcher, fault, sender.running()).values())

    # A restarted process may take as long to come back as a first start.
    _wait(stack, at_work, stack.config.start_timeout_s, restarts)
    watcher.poll()
    back = _back_to_work(stack, watcher, fault, sender.running())
    return _figures(stack, scenario, run, messages, rate, fault, back, restarts)


def _back_to_work(
    stack: ChaosStack, watcher: AuditWatcher, fault: Fault, sender_alive: bool
) -> dict[str, bool]:
    """Per process: did it do its work again after the fault ended?"""
    after = fault.ended
    out = {g.name: watcher.last_decision_at.get(g.name, 0.0) > after for g in stack.gateways}
    handled_after = {h.instance for h in handled_records(stack) if h.at > after}
    for receiver in stack.receivers:
        out[receiver.name] = receiver.name.removeprefix("receiver-") in handled_after
    out["sender"] = sender_alive and sender_log(stack, "").last_sent_at > after
    return out


def _figures(
    stack: ChaosStack,
    scenario: Scenario,
    run: str,
    messages: int,
    rate: float,
    fault: Fault,
    back: dict[str, bool],
    restarts: list[str],
) -> ScenarioResult:
    log = sender_log(stack, run)
    handled = [h for h in handled_records(stack) if h.run == run]
    by_mid = Counter(h.message_id for h in handled)
    first: dict[str, Any] = {}
    for h in sorted(handled, key=lambda h: h.at):
        first.setdefault(h.message_id, h)
    in_window = 0
    for mid, count in by_mid.items():
        if count < 2:
            continue
        h = first[mid]
        if (
            h.instance == fault.instance
            and fault.started - DUPLICATE_WINDOW_S <= h.at <= fault.ended
        ):
            in_window += count - 1
    duplicates = sum(c - 1 for c in by_mid.values())
    handled_seqs = {h.seq for h in handled}
    lost = sorted(set(log.acked) - handled_seqs)
    mids = {mid for mid, _t in log.acked.values()}
    with stack.admin() as client:
        forwards = delivered_ids(client, mids)
        dead, reasons = dead_letters(client, run, mids)
    after = sorted(h.at for h in handled_records(stack) if h.at > fault.ended)
    recovery = after[0] - fault.ended if after else None
    before = [mid for mid, t in log.acked.values() if t <= fault.ended]
    caught_up = None
    if all(mid in first for mid in before):
        caught_up = max([first[mid].at - fault.ended for mid in before] + [0.0])
    notes = list(fault.notes)
    if log.failed:
        kinds = Counter(log.failed.values())
        notes.append("send() raised: " + ", ".join(f"{k} x{n}" for k, n in kinds.items()))
    unacked = handled_seqs & set(log.failed)
    if unacked:
        notes.append(f"{len(unacked)} message(s) handled although their send() raised")
    notes += sorted(set(reasons))
    return ScenarioResult(
        scenario=scenario.name,
        summary=scenario.summary,
        messages=messages,
        rate=rate,
        sent=len(log.acked),
        send_failed=len(log.failed),
        delivered=len(forwards),
        forwarded_twice=sum(c - 1 for c in forwards.values()),
        handled=len(handled_seqs),
        handled_unacknowledged=len(unacked),
        lost=len(lost),
        duplicates=duplicates,
        duplicates_outside_window=duplicates - in_window,
        dead_lettered=dead,
        stranded=fault.stranded,
        fault_s=round(fault.ended - fault.started, 2),
        recovery_s=round(recovery, 2) if recovery is not None else None,
        caught_up_s=round(caught_up, 2) if caught_up is not None else None,
        back_to_work=back,
        restarts=restarts,
        notes=notes,
        lost_seqs=lost,
    )
