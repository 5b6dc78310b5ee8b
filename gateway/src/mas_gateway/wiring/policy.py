"""The policy store: loaded and tested (fail closed), its version recorded, its files watched."""

from __future__ import annotations

import asyncio

from ..compliance import PolicyHistoryRecorder
from ..policy import PolicyStore
from ..policy.dlp_check import dlp_check_for
from .core import Core

__all__ = ["start_policy"]


async def start_policy(core: Core) -> PolicyStore:
    """Load and test the policies, record the version in force, and watch for changes.

    Raises:
        ConfigError: a policy file cannot be read, does not validate or fails its tests.
    """
    settings = core.settings
    store = await asyncio.to_thread(PolicyStore.load, settings.policies_dir, dlp=dlp_check_for)
    history = PolicyHistoryRecorder(core.client, settings.gateway_id)
    await history.record(store.current)  # compliance evidence: which version was in force
    store.add_listener(history.listener)
    await store.start(core.client, poll_interval=settings.policy_poll_s)
    core.closers.push_async_callback(history.aclose)
    core.closers.push_async_callback(store.stop)
    return store
