"""A copy of the repository's policies with a high-volume route for load and crash tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from .helpers import REPO_POLICIES

BULK_ROLES = "\ng, loader, bulk\ng2, sink, bulk-sinks\n"
BULK_RULE = "\np, bulk, bulk-sinks, load.*, allow\n"


def bulk_policies(tmp_path: Path) -> Path:
    """Policies where agent `loader` may send `load.*` to `sink` without a practical limit."""
    target = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, target)
    with (target / "roles.csv").open("a", encoding="utf-8") as roles:
        roles.write(BULK_ROLES)
    with (target / "policy.csv").open("a", encoding="utf-8") as policy:
        policy.write(BULK_RULE)
    limits_file = target / "ratelimits.yaml"
    limits = yaml.safe_load(limits_file.read_text(encoding="utf-8"))
    limits.setdefault("roles", {})["bulk"] = {"rate": 1_000_000, "burst": 1_000_000}
    limits_file.write_text(yaml.safe_dump(limits), encoding="utf-8")
    return target
