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

from .common import progress

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``bench`` command group."""
    bench = subparsers.add_parser("bench", help="benchmarks")
    sub = bench.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    _add_dlp(sub)
    _add_gateway(sub)
    _add_chaos(sub)


def _add_gateway(sub: Any) -> None:
    gateway = sub.add_parser(
        "gateway",
        help="end-to-end msgs/s A -> B through the gateway next to a plain Redis stream",
        description=(
            "Send messages from one agent process to another through gateway processes, then "
            "the same messages over a plain Redis stream between two processes (the baseline), "
            "on the same Redis in the same run, and print both rates and their ratio."
        ),
    )
    gateway.add_argument("--messages", type=int, default=5000, help="messages to send")
    gateway.add_argument("--size", type=int, default=64, help="payload text length")
    gateway.add_argument("--gateways", type=int, default=1, help="gateway processes")
    gateway.add_argument(
        "--redis-url", help="an empty Redis to use (default: start an embedded one)"
    )
    gateway.add_argument("--json", action="store_true", help="print JSON instead of a table")
    gateway.set_defaults(func=_bench_gateway)


def _bench_gateway(args: argparse.Namespace) -> int:
    from ..benchmarks.throughput import run_throughput

    if args.messages < 1 or args.gateways < 1 or args.size < 0:
        raise SystemExit("mas bench gateway: --messages and --gateways must be positive")
    progress(
        f"bench gateway: {args.messages} messages through {args.gateways} gateway process(es), "
        "then the plain-stream baseline"
    )
    result = run_throughput(
        count=args.messages, size=args.size, gateways=args.gateways, redis_url=args.redis_url
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    print(f"gateway throughput: {result.count} messages A -> B, separate processes")
    print(
        f"  through {result.gateways} gateway process(es) {result.gateway_msgs_per_s:10.1f} msgs/s"
    )
    print(f"  plain Redis stream (baseline) {result.baseline_msgs_per_s:10.1f} msgs/s")
    print(f"  ratio to baseline             {result.ratio:10.3f}")
    return 0


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
