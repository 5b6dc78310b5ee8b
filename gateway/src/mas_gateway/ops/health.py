"""Readiness of a gateway process: what must hold for it to do its job right now."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas.watchdog import Watchdog

from ..dlp.engine.shared import cached_engine, has_dlp
from ..policy import PolicyStore

__all__ = ["Progress", "Readiness", "ReadinessReport"]

PING_TIMEOUT_S = 2.0


class Progress:
    """When the consume loop last completed a round (read, and processed what it read)."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    def tick(self) -> None:
        """The loop completed a round."""
        self.at = time.monotonic()

    def age(self) -> float:
        """Seconds since the last completed round."""
        return time.monotonic() - self.at


@dataclass(frozen=True)
class ReadinessReport:
    """Each check by name: None when it passes, else why it fails."""

    checks: dict[str, str | None] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """True when every check passes."""
        return all(problem is None for problem in self.checks.values())

    def as_json(self) -> dict[str, object]:
        """The report as a JSON document."""
        return {
            "ready": self.ready,
            "checks": {k: v or "ok" for k, v in self.checks.items()},
        }


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
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                await self._client.ping()  # type: ignore[misc]
            checks["redis"] = None
        except (RedisError, OSError, TimeoutError) as exc:
            checks["redis"] = f"Redis does not answer: {type(exc).__name__}"
        failure = self._watchdog.failure
        checks["loops"] = str(failure) if failure is not None else None
        age = self._progress.age()
        checks["consuming"] = (
            None
            if age <= self._stall_s
            else f"the consume loop has not completed a round for {age:.0f} s"
        )
        policy = self._policy.current
        checks["policy"] = None if policy is not None else "no policy version is in force"
        if policy is not None and has_dlp(policy) and cached_engine(policy) is None:
            checks["dlp"] = "the DLP rules of the policy in force are still loading"
        else:
            checks["dlp"] = None
        return ReadinessReport(checks)
