"""A copy of a policies directory with a high-volume route, for load tests and benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

__all__ = ["BULK_RECEIVER", "BULK_SENDER", "BULK_TYPE", "bulk_policies"]

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
