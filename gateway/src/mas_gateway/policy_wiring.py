"""Build the policy-driven stages of the gateway from ``policies/`` (fail closed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from .authz import AuthorizationStage
from .compliance import PolicyHistoryRecorder
from .dlp import DLPStage
from .policy import PolicyStore
from .policy.dlp_check import DLP_FILE, dlp_check_for
from .settings import GatewaySettings
from .stage import Stage

__all__ = ["PolicyStages", "build_policy_stages"]

Closer = Callable[[], Awaitable[None]]


class PolicyStages:
    """The policy store and the stages that read it."""

    def __init__(self, store: PolicyStore, authz: AuthorizationStage, extra: list[Stage]) -> None:
        self.store = store
        self.authz = authz
        self.extra = extra

    def limit_for(self, roles: tuple[str, ...]) -> Any:
        """Rate limit for a role set under the policy in force."""
        return self.store.rate_limit_for(roles)


async def build_policy_stages(
    client: aioredis.Redis, settings: GatewaySettings
) -> tuple[PolicyStages, list[Closer]]:
    """Load and test the policies (raises `ConfigError` when broken) and start hot reload."""
    store = await asyncio.to_thread(PolicyStore.load, settings.policies_dir, dlp=dlp_check_for)
    closers: list[Closer] = []
    extra: list[Stage] = []
    if (settings.policies_dir / DLP_FILE).is_file():
        dlp = await asyncio.to_thread(
            DLPStage.from_policies, settings.policies_dir, workers=settings.dlp_workers
        )
        await dlp.start()
        extra.append(dlp)  # the service closes whichever DLP stage is in force at stop
    history = PolicyHistoryRecorder(client, settings.gateway_id)
    await history.record(store.current)  # compliance evidence: which version was in force when
    store.add_listener(history.listener)
    await store.start(client, poll_interval=settings.policy_poll_s)
    closers += [history.aclose, store.stop]
    return PolicyStages(store, AuthorizationStage(store), extra), closers
