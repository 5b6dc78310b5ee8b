"""A copy of a policies directory with a high-volume route, for load tests and benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

__all__ = [
    "BENCH_ROLE",
    "BULK_RECEIVER",
    "BULK_SENDER",
    "BULK_TYPE",
    "bench_policies",
    "bulk_policies",
]

BULK_SENDER = "loader"
BULK_RECEIVER = "sink"
BULK_TYPE = "load.item"


def bulk_policies(source: Path, target: Path) -> Path:
    """Copy `source` to `target`, letting `loader` send `load.*` to `sink` without a limit."""
    shutil.copytree(source, target)
    with (target / "roles.csv").open("a", encoding="utf-8") as roles:
        roles.write(f"\ng, {BULK_SENDER}, bulk\ng2, {BULK_RECEIVER}, bulk-sinks\n")
    with (target / "policy.csv").open("a", encoding="utf-8") as policy:
        policy.write("\np, bulk, bulk-sinks, load.*, allow\n")
    limits_file = target / "ratelimits.yaml"
    limits = yaml.safe_load(limits_file.read_text(encoding="utf-8")) or {}
    limits.setdefault("roles", {})["bulk"] = {"rate": 1_000_000, "burst": 1_000_000}
    limits_file.write_text(yaml.safe_dump(limits), encoding="utf-8")
    return target


BENCH_ROLE = "bench-sender"
"""Role the gateway benchmark gives its sending agents when it provisions them."""


def bench_policies(source: Path, target: Path, *, extra_rules: int = 0) -> Path:
    """Copy `source` to `target`; holders of `BENCH_ROLE` may send ``load.*`` to anyone.

    `extra_rules` adds that many allow lines for other roles and message types, which
    no benchmark message matches but every authorization decision must weigh (the
    cost of a large policy), each role held by a member of its own. The role has no
    rate limit.
    """
    shutil.copytree(source, target)
    if extra_rules:
        with (target / "roles.csv").open("a", encoding="utf-8") as roles:
            roles.write("\n# --- benchmark roles (generated) ---\n")
            roles.writelines(f"g, bench-member-{k}, bench-role-{k}\n" for k in range(extra_rules))
    lines = ["", "# --- benchmark traffic (generated) ---"]
    lines += [f"p, bench-role-{k}, *, bench.kind{k}.*, allow" for k in range(extra_rules)]
    lines.append(f"p, {BENCH_ROLE}, *, load.*, allow")
    with (target / "policy.csv").open("a", encoding="utf-8") as policy:
        policy.write("\n".join(lines) + "\n")
    limits_file = target / "ratelimits.yaml"
    limits = yaml.safe_load(limits_file.read_text(encoding="utf-8")) or {}
    limits.setdefault("roles", {})[BENCH_ROLE] = {"rate": 1_000_000, "burst": 1_000_000}
    limits_file.write_text(yaml.safe_dump(limits), encoding="utf-8")
    return target
