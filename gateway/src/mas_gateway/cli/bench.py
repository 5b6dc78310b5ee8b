"""``mas bench <what>``: benchmarks that print their figures next to a baseline.

Each benchmark is a sub-command added by a ``_add_<what>`` function below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from ..settings import default_policies_dir

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``bench`` command group."""
    bench = subparsers.add_parser("bench", help="benchmarks")
    sub = bench.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    _add_dlp(sub)


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
    dlp.add_argument("--policies", type=Path, help="policies directory (default: ./policies)")
    dlp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    dlp.set_defaults(func=_bench_dlp)


def _bench_dlp(args: argparse.Namespace) -> int:
    from ..dlp.bench import bench_dlp

    if args.messages < 1 or args.batch_size < 1:
        raise SystemExit("mas bench dlp: --messages and --batch-size must be positive")
    scenarios = ("ner", "patterns") if args.scenario == "all" else (args.scenario,)
    figures = asyncio.run(
        bench_dlp(
            args.policies or default_policies_dir(),
            scenarios=scenarios,
            messages=args.messages,
            workers=args.workers,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    )
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
