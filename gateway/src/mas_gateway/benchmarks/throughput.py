"""``mas bench gateway``: agents A -> B through the gateway next to plain Redis streams.

Senders, receivers and each gateway are separate OS processes, as in a deployment;
one worker process hosts many agents. Every scenario runs twice on the same Redis
in the same run: first the baseline, the same payloads over plain Redis streams
(``XADD``, then ``XREADGROUP`` and ``XACK`` in batches; no gateway, signatures or
checks), then through the gateway with the SDK's agents. Each path reports what
arrived (every message exactly once, or the scenario fails), throughput, latency
and the CPU and peak memory of every process involved.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from mas.errors import ConfigError
from mas.urls import without_credentials

from ..embedded_redis import redis_url_or_embedded
from .children import BenchError, Child
from .figures import PathResult, ProcessFigure, ScenarioResult
from .procstats import CpuSample
from .scenarios import Scenario
from .stack import BenchStack
from .traffic import payload_text
from .worker import RAW_GROUP, Pair, WorkerSpec, raw_stream

__all__ = ["BenchReport", "run_gateway_bench"]

WORKER = [sys.executable, "-m", "mas_gateway.benchmarks.worker"]
READY_TIMEOUT_S = 600.0
"""Starting many agents or a gateway on a loaded machine can take minutes."""
EXIT_TIMEOUT_S = 120.0


@dataclass
class BenchReport:
    """Every scenario of one run, and where it ran."""

    results: list[ScenarioResult] = field(default_factory=list[ScenarioResult])
    machine: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def ok(self) -> bool:
        """Every scenario measured both paths and delivered every message exactly once."""
        return all(r.ok for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "benchmark": "gateway",
            "machine": self.machine,
            "scenarios": [r.as_dict() for r in self.results],
            "ok": self.ok,
        }


def _machine(client: redis.Redis) -> dict[str, Any]:
    server: dict[str, Any] = client.info("server")  # type: ignore[assignment]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": None if load is None else [round(x, 2) for x in load],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis_version": server.get("redis_version"),
        "redis_server": server.get("server_name", "redis"),
    }


def _pairs(scenario: Scenario) -> list[Pair]:
    total, count = scenario.message_count, scenario.pairs
    pairs: list[Pair] = []
    first = 0
    for j in range(count):
        n = total // count + (1 if j < total % count else 0)
        pairs.append(Pair(f"bench-s{j}", f"bench-r{j}", first, n))
        first += n
    return pairs


class _PathRun:
    """The worker processes of one path of one scenario."""

    def __init__(
        self,
        stack: BenchStack,
        scenario: Scenario,
        gateway: bool,
        *,
        processes: int,
        timeout_s: float,
        work: Path,
        progress: Callable[[str], None],
    ) -> None:
        self.progress = progress
        self.stack = stack
        self.scenario = scenario
        self.gateway = gateway
        self.processes = processes
        self.timeout_s = timeout_s
        self.work = work
        self.run_id = uuid.uuid4().hex[:8]
        self.pairs = _pairs(scenario)

    def _spec(self, role: str, pairs: list[Pair], rate: float | None) -> WorkerSpec:
        return WorkerSpec(
            role=("" if self.gateway else "raw-") + role,
            # Agents log in with their own credential files, never as the administrator.
            redis_url=self.stack.admin_url
            if not self.gateway
            else without_credentials(self.stack.admin_url),
            pairs=pairs,
            run=self.run_id,
            size=self.scenario.size,
            traffic=self.scenario.traffic,
            rate=rate,
            credentials_dir=str(self.stack.credentials_dir),
            timeout_s=self.timeout_s,
        )

    def _child(self, name: str, spec: WorkerSpec) -> Child:
        path = "gateway" if self.gateway else "plain"
        spec_file = self.work / f"{self.scenario.name}-{path}-{name}.json"
        spec_file.touch(mode=0o600)  # it holds the administrator's URL
        spec_file.write_text(spec.to_json(), encoding="utf-8")
        log = self.work / f"{self.scenario.name}-{path}-{name}.log"
        label = f"{name} ({self.scenario.name}, {path} path)"
        return Child(label, [*WORKER, str(spec_file)], log)

    def _check(self) -> None:
        if self.gateway:
            self.stack.check_gateways()

    def _ext(self) -> list[CpuSample | None]:
        samples: list[CpuSample | None] = self.stack.gateway_samples() if self.gateway else []
        return [*samples, self.stack.redis_sample()]

    def run(self) -> PathResult:
        """Start receivers, then senders; measure from ``go`` to the last receipt."""
        groups = [self.pairs[p :: self.processes] for p in range(self.processes)]
        groups = [g for g in groups if g]
        rate = self.scenario.rate / len(groups) if self.scenario.rate else None
        children: list[Child] = []
        n = len(self.pairs)
        what = f"{n} receiving and {n} sending agent(s)" if self.gateway else f"{n} stream(s)"
        try:
            self.progress(f"starting the receiver and sender processes ({what})")
            receivers = [self._child(f"receiver-{p}", self._spec("receive", g, None))
                         for p, g in enumerate(groups)]  # fmt: skip
            children += receivers
            for child in receivers:
                child.expect("ready", READY_TIMEOUT_S, self._check)
            senders = [self._child(f"sender-{p}", self._spec("send", g, rate))
                       for p, g in enumerate(groups)]  # fmt: skip
            children += senders
            for child in senders:
                child.expect("ready", READY_TIMEOUT_S, self._check)
            before = self._ext()
            self.progress("sending")
            for child in [*receivers, *senders]:
                child.tell("go")
            sent = [c.expect("sent", self.timeout_s, self._check) for c in senders]
            received = [c.expect("result", self.timeout_s + 60, self._check) for c in receivers]
            after = self._ext()
            for child in senders:
                child.tell("stop")
            sender_results = [c.expect("result", EXIT_TIMEOUT_S) for c in senders]
            for child in children:
                child.finish(EXIT_TIMEOUT_S)
        finally:
            for child in children:
                child.kill()
        return self._result(sent, sender_results, received, before, after)

    def _result(
        self,
        sent: list[dict[str, Any]],
        sender_results: list[dict[str, Any]],
        received: list[dict[str, Any]],
        before: list[CpuSample | None],
        after: list[CpuSample | None],
    ) -> PathResult:
        figures = [
            *_worker_figures("sender", sender_results),
            *_worker_figures("receiver", received),
        ]
        names = [g.name for g in self.stack.gateways] if self.gateway else []
        for name, start, end in zip([*names, "redis"], before, after, strict=True):
            usage = end.since(start) if start is not None and end is not None else None
            figures.append(ProcessFigure(name, "redis" if name == "redis" else "gateway", usage))
        refused: dict[str, int] = {}
        for result in sender_results:
            for code, n in result["refused"].items():
                refused[code] = refused.get(code, 0) + int(n)
        finished = [r["finished_at"] for r in received if r["finished_at"] is not None]
        return PathResult(
            path="gateway" if self.gateway else "plain",
            sent=sum(int(s["sent"]) for s in sent),
            expected=sum(int(r["expected"]) for r in received),
            delivered=sum(int(r["unique"]) for r in received),
            duplicates=sum(int(r["duplicates"]) for r in received),
            unexpected=sum(int(r["unexpected"]) for r in received),
            redacted=sum(int(r["redacted"]) for r in received),
            timed_out=any(r["timed_out"] for r in received),
            started_at=min(float(s["started_at"]) for s in sent),
            sent_at=max(float(s["sent_at"]) for s in sent),
            finished_at=max(finished) if finished else None,
            latencies_ms=[x for r in received for x in r["latencies_ms"]],
            refused=refused,
            processes=figures,
        )


def _worker_figures(role: str, results: list[dict[str, Any]]) -> list[ProcessFigure]:
    out: list[ProcessFigure] = []
    for index, result in enumerate(results):
        start = CpuSample.from_dict(result["usage_before"])
        end = CpuSample.from_dict(result["usage_after"])
        out.append(ProcessFigure(f"{role}-{index}", role, end.since(start)))
    return out


@contextmanager
def _raw_streams(client: redis.Redis, pairs: list[Pair]) -> Iterator[None]:
    """Fresh baseline streams with their group for the scenario; deleted afterwards."""
    streams = [raw_stream(p.receiver) for p in pairs]
    client.delete(*streams)
    for stream in streams:
        client.xgroup_create(stream, RAW_GROUP, id="0", mkstream=True)
    try:
        yield
    finally:
        client.delete(*streams)


def _order(scenarios: list[Scenario]) -> list[Scenario]:
    """Scenarios needing more provisioned agents or another policy run later (stable)."""
    return sorted(scenarios, key=lambda s: (s.policy_rules, max(s.registered, s.pairs * 2)))


def _run_scenario(
    stack: BenchStack,
    result: ScenarioResult,
    *,
    processes: int,
    timeout_s: float,
    work: Path,
    progress: Callable[[str], None],
) -> None:
    """Measure both paths of `result.scenario` into `result`."""
    scenario = result.scenario
    pairs = _pairs(scenario)
    result.payload_bytes = len(payload_text(scenario.traffic, 0, scenario.size).encode())
    senders = [p.sender for p in pairs]
    receivers = [p.receiver for p in pairs]
    idle = max(0, scenario.registered - len(stack.provisioned | {*senders, *receivers}))
    todo = len(set(senders + receivers) - stack.provisioned) + idle
    if todo:
        progress(f"{scenario.name}: provisioning {todo} agents")
    stack.provision(senders, sender=True)
    stack.provision(receivers, sender=False)
    if idle:
        start = sum(1 for a in stack.provisioned if a.startswith("bench-idle-"))
        stack.provision([f"bench-idle-{k}" for k in range(start, start + idle)], sender=False)
    result.registered = stack.registered()

    def step(path: str) -> Callable[[str], None]:
        return lambda line: progress(f"{scenario.name}: {path}: {line}")

    options = {"processes": processes, "timeout_s": timeout_s, "work": work}
    progress(f"{scenario.name}: plain Redis streams, {scenario.message_count} messages")
    with _raw_streams(stack.admin, pairs):
        result.plain = _PathRun(stack, scenario, False, progress=step("plain"), **options).run()
    if stack.policy_rules != scenario.policy_rules:
        progress(f"{scenario.name}: starting {scenario.gateways} gateway process(es)")
    elif len(stack.gateways) < scenario.gateways:
        progress(
            f"{scenario.name}: starting {scenario.gateways - len(stack.gateways)} more gateway"
        )
    stack.use_gateways(scenario.gateways, scenario.policy_rules, READY_TIMEOUT_S)
    progress(f"{scenario.name}: through {scenario.gateways} gateway process(es)")
    result.gateway = _PathRun(stack, scenario, True, progress=step("gateway"), **options).run()
    problems = [p.problem() for p in (result.plain, result.gateway)]
    result.error = "; ".join(p for p in problems if p) or None


def run_gateway_bench(
    scenarios: list[Scenario],
    *,
    redis_url: str | None = None,
    processes: int = 1,
    timeout_s: float = 600.0,
    progress: Callable[[str], None] = lambda _line: None,
    on_result: Callable[[ScenarioResult], None] = lambda _result: None,
    keep: Path | None = None,
) -> BenchReport:
    """Run `scenarios` (an embedded Redis unless `redis_url` is given, then an empty one).

    Work files go to a temporary directory, or to `keep` (empty or new) to look at later.

    A scenario that fails (a process died, a message went missing) is reported with
    its error and the next one runs; `BenchReport.ok` says whether all passed.
    """
    report = BenchReport()
    with ExitStack() as cleanup:
        url = cleanup.enter_context(redis_url_or_embedded(redis_url))
        if keep is None:
            work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="mas-bench-")))
        else:  # logs, specs and credential files stay (the last two hold secrets: mode 0600)
            keep.mkdir(mode=0o700, parents=True, exist_ok=True)
            if any(keep.iterdir()):
                raise ConfigError(f"--keep {keep}: the directory is not empty")
            work = keep
        stack = BenchStack(url, work)
        cleanup.callback(stack.close)
        report.machine = _machine(stack.admin)
        for scenario in _order(scenarios):
            result = ScenarioResult(scenario, processes=processes)
            try:
                _run_scenario(
                    stack,
                    result,
                    processes=processes,
                    timeout_s=timeout_s,
                    work=work,
                    progress=progress,
                )
            except BenchError as exc:  # what was measured before stays in the result
                result.error = str(exc)
                stack.stop_gateways()  # the next scenario starts fresh ones
            report.results.append(result)
            on_result(result)
    return report
