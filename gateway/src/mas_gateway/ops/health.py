"""Readiness of a gateway process: what must hold for it to do its job right now."""

from __future__ import annotations

import redis.asyncio as aioredis

from mas.ops.readiness import Progress, ReadinessReport, ping_problem, stall_problem
from mas.watchdog import Watchdog

from ..dlp.engine.shared import cached_engine, has_dlp
from ..policy import PolicyStore

__all__ = ["Progress", "Readiness", "ReadinessReport"]


class Readiness:
    """Checks Redis, the loops, the consume loop's progress, and the policy and DLP rules."""

    def __init__(
        self,
        client: aioredis.Redis,
        watchdog: Watchdog,
        progress: Progress,
        policy: PolicyStore,
        *,
        stall_s: float,
    ) -> None:
        self._client = client
        self._watchdog = watchdog
        self._progress = progress
        self._policy = policy
        self._stall_s = stall_s

    async def check(self) -> ReadinessReport:
        """Run every check (Redis with a short timeout)."""
        checks: dict[str, str | None] = {}
        checks["redis"] = await ping_problem(self._client)
        failure = self._watchdog.failure
        checks["loops"] = str(failure) if failure is not None else None
        checks["consuming"] = stall_problem("consume", self._progress, self._stall_s)
        policy = self._policy.current
        checks["policy"] = None if policy is not None else "no policy version is in force"
        if policy is not None and has_dlp(policy) and cached_engine(policy) is None:
            checks["dlp"] = "the DLP rules of the policy in force are still loading"
        else:
            checks["dlp"] = None
        return ReadinessReport(checks)
