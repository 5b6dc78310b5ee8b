"""The path of one batch: the registered stage chain, the committer and the batch processor."""

from __future__ import annotations

import functools

from ..audit import build_audit_entry
from ..ops.metrics import GatewayMetrics
from ..outboxes import Outboxes
from ..pipeline import Pipeline
from ..policy import PolicyStore
from ..processor import BatchProcessor
from ..replicated_commit import ReplicatedCommitter
from ..stages.registry import Closer, StageEnv, build_stages
from .core import Core

__all__ = ["build_committer", "build_pipeline", "build_processor"]


async def build_pipeline(core: Core, store: PolicyStore) -> Pipeline:
    """The stages named in the ``stages`` setting, in that order.

    Raises:
        ConfigError: a stage name is not registered, or a stage cannot be configured.
    """
    env = StageEnv(core.client, core.settings, store)
    core.closers.push_async_callback(_close_in_reverse, env.closers)
    return Pipeline(await build_stages(core.settings.stages, env))


def build_committer(core: Core) -> ReplicatedCommitter:
    """Signs, audits and commits each batch atomically, then waits for the replicas asked for."""
    settings = core.settings
    committer = ReplicatedCommitter(
        core.client,
        core.key,
        gateway_id=settings.gateway_id,
        consumer=core.consumer,
        audit=functools.partial(
            build_audit_entry, gateway_id=settings.gateway_id, key_id=core.key.key_id
        ),
        dedup_window_s=settings.message_dedup_window_s,
    )
    committer.fence = core.replica_fence()
    return committer


async def build_processor(
    core: Core, store: PolicyStore, outboxes: Outboxes, metrics: GatewayMetrics
) -> BatchProcessor:
    """Runs batches of `outboxes` entries through the stages and commits them (in `metrics`)."""
    settings = core.settings
    pipeline = await build_pipeline(core, store)
    pipeline.on_stage = metrics.observe_stage
    processor = BatchProcessor(
        core.client,
        pipeline,
        store,
        build_committer(core),
        keep_claims=outboxes.keep_claims,
        claim_idle_ms=settings.claim_idle_ms,
        redis_timeout_s=settings.redis_socket_timeout_s,
    )
    processor.on_batch = metrics.observe_batch
    processor.listeners.append(metrics.observe_decision)
    return processor


async def _close_in_reverse(closers: list[Closer]) -> None:
    for closer in reversed(closers):
        await closer()
