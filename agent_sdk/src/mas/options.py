"""AgentOptions: the tunable knobs of an agent, validated once at construction."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_REDIS_URL",
    "AgentOptions",
    "check_block_below_timeout",
    "env_flag",
    "resolve_redis_url",
]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


def resolve_redis_url(redis_url: str | None) -> str:
    """The given URL, else env ``MAS_REDIS_URL``, else the local default."""
    return redis_url or os.environ.get("MAS_REDIS_URL") or DEFAULT_REDIS_URL


def env_flag(name: str) -> bool:
    """True when an environment variable holds 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def check_block_below_timeout(block_ms: int, socket_timeout: float | None, source: str) -> None:
    """`ValueError` when a blocking read of `block_ms` cannot end within the socket timeout."""
    if socket_timeout is not None and block_ms / 1000 >= socket_timeout:
        raise ValueError(
            f"Agent option block_ms ({block_ms} ms) must be below the Redis socket timeout "
            f"({socket_timeout} s, from {source}): every blocking read would time out"
        )


@dataclass(frozen=True)
class AgentOptions:
    """Keyword options accepted by `Agent(...)` beyond the seed's named parameters."""

    heartbeat_interval: float = 30.0
    """Seconds between heartbeats."""
    heartbeat_ttl: float = 60.0
    """Seconds a heartbeat stays valid; must exceed the interval."""
    claim_idle: float = 30.0
    """Seconds an entry may sit unacknowledged on a dead consumer before it is reclaimed."""
    max_deliveries: int = 5
    """Failed deliveries after which a message is dead-lettered."""
    concurrency: int = 16
    """Handlers running at once per instance."""
    batch_size: int = 32
    """Entries read per XREADGROUP call."""
    block_ms: int = 1000
    """How long one read blocks waiting for new entries."""
    dedup_ttl: float = 7 * 24 * 3600.0
    """Seconds a handled message_id is remembered."""
    stop_timeout: float = 30.0
    """Seconds `stop()` waits for running handlers before leaving them to be reclaimed."""
    socket_timeout: float = 10.0
    """Seconds one Redis command may take before it fails (and is retried); above `block_ms`.

    Without it, a command to a server that stopped answering (paused, partitioned)
    would wait forever. A ``socket_timeout`` in the Redis URL takes precedence.
    """
    submit_retry_s: float = 30.0
    """Seconds `send()`/`request()` retry a submission through Redis outages before raising."""
    submit_replicas: int = 0
    """Replicas that must hold a submission before `send()`/`request()` return (Redis
    ``WAIT``); 0: do not wait. With Sentinel, 1 makes a returned send survive a failover."""
    replica_timeout_ms: int = 1000
    """How long one ``WAIT`` for `submit_replicas` may take; then the submission is retried."""
    rate_limit_wait: float = 60.0
    """Seconds a message refused with 429 may wait in total to be resubmitted (0: never)."""
    resend_max_messages: int = 10_000
    """Recently sent messages kept for resubmission after a 429, at most (oldest dropped)."""
    resend_max_bytes: int = 16 * 1024 * 1024
    """Total envelope bytes kept for resubmission after a 429, at most (oldest dropped)."""
    credentials: str | Path | None = None
    """Path of this agent's credential file."""
    credentials_dir: str | Path | None = None
    """Directory of ``<agent_id>.json`` credential files."""
    auto_provision: bool | None = None
    """Register a fresh key on first start (development); default env ``MAS_AUTO_PROVISION``."""
    gateway_public_key: str | None = None
    """Base64 Ed25519 public key of the gateway to trust; default env ``MAS_GATEWAY_PUBLIC_KEY``."""

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> AgentOptions:
        """Build from `**options`; unknown names and bad values raise with the name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown Agent option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        built = cls(**options)
        built.validate()
        return built

    def validate(self) -> None:
        """Raise `ValueError` naming the first option that makes no sense."""
        positive = ("heartbeat_interval", "heartbeat_ttl", "claim_idle", "dedup_ttl")
        for name in (*positive, "socket_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Agent option {name} must be > 0")
        for name in ("stop_timeout", "submit_retry_s", "rate_limit_wait", "submit_replicas"):
            if getattr(self, name) < 0:
                raise ValueError(f"Agent option {name} must be >= 0")
        if self.heartbeat_ttl <= self.heartbeat_interval:
            raise ValueError("Agent option heartbeat_ttl must exceed heartbeat_interval")
        counts = ("max_deliveries", "concurrency", "batch_size", "block_ms")
        for name in (*counts, "resend_max_messages", "resend_max_bytes", "replica_timeout_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"Agent option {name} must be >= 1")
        check_block_below_timeout(self.block_ms, self.socket_timeout, "socket_timeout")
        if self.submit_replicas and self.replica_timeout_ms / 1000 >= self.socket_timeout:
            raise ValueError(
                f"Agent option replica_timeout_ms ({self.replica_timeout_ms} ms) must be below "
                f"socket_timeout ({self.socket_timeout:g} s): every WAIT would time out"
            )

    @property
    def provisioning_allowed(self) -> bool:
        """Whether this agent may register its own key (option, else env)."""
        if self.auto_provision is not None:
            return self.auto_provision
        return env_flag("MAS_AUTO_PROVISION")
