"""Run stages the way the gateway does, on contexts built by a test."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from mas_gateway.context import MessageContext
from mas_gateway.pipeline import Pipeline
from mas_gateway.policy import PolicySet, load_policy_set
from mas_gateway.stages.base import Stage

REPO_POLICIES = Path(__file__).resolve().parents[1] / "policies"


@cache
def repo_policy() -> PolicySet:
    """The repository's policies, as one version."""
    return load_policy_set(REPO_POLICIES)


async def run_stages(
    stages: Stage | Sequence[Stage],
    contexts: Sequence[MessageContext],
    policy: PolicySet | None = None,
) -> None:
    """Run `stages` (in order) over one batch under `policy` (default: the repository's)."""
    chain = [stages] if isinstance(stages, Stage) else list(stages)
    await Pipeline(chain).run(contexts, policy or repo_policy())
