"""``mas bench <what>``: benchmarks that print their figures next to a baseline.

Each benchmark is a sub-command added by a ``_add_<what>`` function below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from mas.errors import ConfigError

from .common import print_json, progress

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``bench`` command group."""
    bench = subparsers.add_parser("bench", help="benchmarks")
    sub = bench.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    _add_dlp(sub)
    _add_gateway(sub)
    _add_chaos(sub)


def _add_gateway(sub: Any) -> None:
    from ..benchmarks.scenarios import DEFAULT_SET, QUICK_SET, SCENARIOS

    gateway = sub.add_parser(
        "gateway",
        help="agents A -> B through the gateway next to plain Redis streams: throughput, "
        "latency, CPU and memory per process",
        description=(
            "Run each scenario twice on the same Redis: over plain Redis streams (the "
            "baseline) and through gateway processes with SDK agents, many agents per worker "
            "process. Print throughput and its ratio to the baseline, latency p50/p99, and "
            "CPU and peak RSS of every process. Exit 1 when a scenario did not deliver every "
            "message exactly once. Scenarios: "
            + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
            + f". Default: {', '.join(DEFAULT_SET)}; --quick: {', '.join(QUICK_SET)}."
        ),
    )
    pick = gateway.add_argument_group("what to run")
    pick.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="a scenario to run (repeatable; 'all' for every one; an unknown name lists them)",
    )
    pick.add_argument(
        "--quick", action="store_true", help="the headline scenarios with a fifth of the messages"
    )
    pick.add_argument("--messages", type=int, help="messages per scenario (default: its own)")
    pick.add_argument("--rate", type=float, help="offered msgs/s of paced scenarios (default: 500)")
    custom = gateway.add_argument_group(
        "a custom scenario (any of these adds one, named 'custom', to the run)"
    )
    custom.add_argument("--agents", type=int, help="active agents: half send, half receive")
    custom.add_argument("--registered", type=int, help="agents provisioned in all (idle ones too)")
    custom.add_argument("--size", type=int, help="payload text length in bytes")
    custom.add_argument("--traffic", choices=("clean", "ner"), help="clean text or text for NER")
    custom.add_argument("--gateways", type=int, help="gateway processes")
    custom.add_argument("--policy-rules", type=int, help="extra Casbin rules in the policy")
    custom.add_argument("--paced", action="store_true", help="offer --rate msgs/s (default 500)")
    gateway.add_argument(
        "--processes", type=int, default=1, help="sender and receiver processes each (default 1)"
    )
    gateway.add_argument(
        "--timeout", type=float, default=600.0, help="seconds a path may take to deliver"
    )
    gateway.add_argument(
        "--redis-url", help="an empty Redis to use, as its administrator (default: embedded)"
    )
    gateway.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the processes' logs in this empty or new directory (it also holds "
        "credential files: delete it afterwards)",
    )
    out = gateway.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document on stdout")
    out.add_argument("--short", action="store_true", help="one line per scenario (for CI)")
    gateway.set_defaults(func=_bench_gateway)


_CUSTOM = ("agents", "registered", "size", "traffic", "gateways", "policy_rules")


def _gateway_scenarios(args: argparse.Namespace) -> list[Any]:
    from ..benchmarks.scenarios import custom_scenario, select

    for name in ("messages", "agents", "gateways", "processes"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"mas bench gateway: --{name} must be at least 1")
    for name in ("registered", "size", "policy_rules"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise ConfigError(f"mas bench gateway: --{name.replace('_', '-')} must be >= 0")
    if (args.rate is not None and args.rate <= 0) or args.timeout <= 0:
        raise ConfigError("mas bench gateway: --rate and --timeout must be positive")
    given = {name: getattr(args, name) for name in _CUSTOM if getattr(args, name) is not None}
    custom = None
    if given or args.paced:
        custom = custom_scenario(**given, rate=(args.rate or 500.0) if args.paced else None)
    try:
        return select(
            args.scenario or [],
            quick=args.quick,
            messages=args.messages,
            rate=args.rate,
            custom=custom,
        )
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None


def _bench_gateway(args: argparse.Namespace) -> int:
    from ..benchmarks.children import BenchError
    from ..benchmarks.report import scenario_block, scenario_line
    from ..benchmarks.throughput import run_gateway_bench

    scenarios = _gateway_scenarios(args)
    progress(
        f"bench gateway: {len(scenarios)} scenario(s): {', '.join(s.name for s in scenarios)}; "
        "each over plain Redis streams, then through the gateway"
    )

    def done(result: Any) -> None:
        progress(f"bench gateway: {scenario_line(result)}")

    try:
        report = run_gateway_bench(
            scenarios,
            redis_url=args.redis_url,
            processes=args.processes,
            timeout_s=args.timeout,
            progress=lambda line: progress(f"bench gateway: {line}"),
            on_result=done,
            keep=args.keep,
        )
    except BenchError as exc:
        print(f"mas bench gateway: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(report.as_dict())
    elif args.short:
        for result in report.results:
            print(scenario_line(result))
    else:
        machine = report.machine
        print(
            f"gateway benchmark: {machine['cpus']} CPUs, load average at start "
            f"{machine['load_average_at_start']}, {machine['redis_server']} "
            f"{machine['redis_version']}, Python {machine['python']}"
        )
        for result in report.results:
            print()
            print(scenario_block(result))
        print()
        print("summary (gateway/plain for latency and CPU):")
        for result in report.results:
            print(f"  {scenario_line(result)}")
    return 0 if report.ok else 1


def _add_chaos(sub: Any) -> None:
    chaos = sub.add_parser(
        "chaos",
        help="inject faults into a stack of real processes and measure what is lost",
        description=(
            "Start Redis (AOF, ACLs), two gateway processes, a sender agent and two receiver "
            "instances in production mode, inject each scenario's fault while traffic flows, "
            "and report sent, delivered, handled, lost, duplicated and dead-lettered messages, "
            "the recovery time and whether every process went back to work on its own. "
            "Exit 1 when a scenario failed."
        ),
    )
    chaos.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="scenario to run (repeatable; default: all; an unknown name lists them)",
    )
    chaos.add_argument("--messages", type=int, default=1000, help="messages per scenario")
    chaos.add_argument("--rate", type=float, default=50.0, help="messages per second")
    chaos.add_argument(
        "--claim-idle-ms", type=int, default=2000, help="claim idle time of gateways and receivers"
    )
    chaos.add_argument(
        "--settle", type=float, default=60.0, help="seconds to wait for the last messages"
    )
    chaos.add_argument(
        "--shared-stack", action="store_true", help="run every scenario on one stack (faster)"
    )
    chaos.add_argument("--keep", type=Path, help="keep logs and journals in this directory")
    chaos.add_argument("--json", action="store_true", help="print JSON instead of a table")
    chaos.set_defaults(func=_bench_chaos)


def _bench_chaos(args: argparse.Namespace) -> int:
    from ..benchmarks.chaos.report import table
    from ..benchmarks.chaos.scenarios import SCENARIOS, scenario_named
    from ..benchmarks.chaos.stack import StackConfig
    from ..benchmarks.chaos.suite import run_suite

    if args.messages < 10 or args.rate <= 0 or args.claim_idle_ms < 100:
        raise SystemExit("mas bench chaos: --messages >= 10, --rate > 0 and --claim-idle-ms >= 100")
    try:
        scenarios = [scenario_named(n) for n in args.scenario or []] or list(SCENARIOS)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    config = StackConfig(
        gateway_claim_idle_ms=args.claim_idle_ms, receiver_claim_idle_s=args.claim_idle_ms / 1000
    )

    def progress(result: Any) -> None:
        if not args.json:
            verdict = "pass" if result.passed else "FAIL: " + "; ".join(result.problems)
            print(f"{result.scenario}: {verdict}", file=sys.stderr, flush=True)

    results = run_suite(
        scenarios,
        messages=args.messages,
        rate=args.rate,
        config=config,
        shared_stack=args.shared_stack,
        work_dir=args.keep,
        settle_s=args.settle,
        on_result=progress,
    )
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print(table(results))
    return 0 if all(r.passed for r in results) else 1


def _add_dlp(sub: Any) -> None:
    dlp = sub.add_parser(
        "dlp",
        help="DLP stage msgs/s next to plain per-message Presidio",
        description=(
            "Scan the same synthetic messages with the DLP stage (batched, worker processes) "
            "and with plain Presidio (one analyze() per message), and print both rates."
        ),
    )
    dlp.add_argument(
        "--scenario",
        choices=("ner", "patterns", "all"),
        default="all",
        help="ner: policy as written, mixed traffic; patterns: policy without NER "
        "entities, clean traffic (default: all)",
    )
    dlp.add_argument("--messages", type=int, default=500, help="messages per scenario")
    dlp.add_argument("--workers", type=int, help="worker processes (default: the policy's)")
    dlp.add_argument("--batch-size", type=int, default=64, help="messages per gateway batch")
    dlp.add_argument("--seed", type=int, default=7, help="seed of the message generator")
    dlp.add_argument(
        "--payloads",
        type=Path,
        help="JSONL file of payloads to use instead of generated traffic "
        '(a line\'s "payload" member if it has one, else the line)',
    )
    dlp.add_argument("--policies", type=Path, help="policies directory (default: ./policies)")
    dlp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    dlp.set_defaults(func=_bench_dlp)


def _read_payloads(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    out: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        payload = row.get("payload", row) if isinstance(row, dict) else None
        if not isinstance(payload, dict):
            raise ConfigError(f"{path}:{number}: a payload must be a JSON object")
        out.append(payload)
    if not out:
        raise ConfigError(f"{path}: no payloads")
    return out


def _bench_dlp(args: argparse.Namespace) -> int:
    from ..benchmarks.dlp import bench_dlp
    from ..paths import default_policies_dir

    if args.messages < 1 or args.batch_size < 1:
        raise SystemExit("mas bench dlp: --messages and --batch-size must be positive")
    scenarios = ("ner", "patterns") if args.scenario == "all" else (args.scenario,)
    payloads = _read_payloads(args.payloads) if args.payloads else None
    progress(
        f"bench dlp: {args.messages} messages per scenario ({', '.join(scenarios)}), "
        "the DLP stage then plain Presidio (loading spaCy first)"
    )
    figures = asyncio.run(
        bench_dlp(
            args.policies or default_policies_dir(),
            scenarios=scenarios,
            messages=args.messages,
            workers=args.workers,
            batch_size=args.batch_size,
            seed=args.seed,
            payloads=payloads,
        )
    )
    progress("bench dlp: done")
    if args.json:
        print(json.dumps([f.to_json() for f in figures], indent=2))
        return 0
    for f in figures:
        print(
            f"dlp {f.scenario}: {f.messages} messages, policy {f.policy}, "
            f"{f.workers} workers, batch {f.batch_size}"
        )
        print(f"  DLP stage               {f.stage_rate:10.1f} msgs/s   flagged {f.stage_flagged}")
        rate, flagged = f.baseline_rate, f.baseline_flagged
        print(f"  plain Presidio per msg  {rate:10.1f} msgs/s   flagged {flagged}")
        print(f"  speed-up                {f.speedup:10.2f}x")
    return 0
