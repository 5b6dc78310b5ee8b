"""Readiness reports and loop progress, shared by the gateway and the MAS service."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["PING_TIMEOUT_S", "Progress", "ReadinessReport", "ping_problem", "stall_problem"]

PING_TIMEOUT_S = 2.0


class Progress:
    """When a loop last completed a round."""

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


async def ping_problem(client: aioredis.Redis) -> str | None:
    """None when Redis answers a PING within `PING_TIMEOUT_S`, else why not."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_S):
            await client.ping()  # type: ignore[misc]
    except (RedisError, OSError, TimeoutError) as exc:
        return f"Redis does not answer: {type(exc).__name__}"
    return None


def stall_problem(name: str, progress: Progress, stall_s: float) -> str | None:
    """None when `progress` ticked within `stall_s`, else a sentence naming loop `name`."""
    age = progress.age()
    if age <= stall_s:
        return None
    return f"the {name} loop has not completed a round for {age:.0f} s"
