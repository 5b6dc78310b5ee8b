"""The tasks that run beside consuming: audit checkpoints, circuits, the presence record.

Each is started here and registers its stop on `Core.closers`.
"""

from __future__ import annotations

from ..audit import AuditCheckpointer, WitnessFile
from ..circuits import CircuitKeeper
from ..policy import PolicyStore
from ..presence import GatewayPresence
from .core import Core

__all__ = ["start_checkpointer", "start_circuit_keeper", "start_presence"]


async def start_checkpointer(core: Core) -> AuditCheckpointer:
    """Sign checkpoints of the audit tree (after catching up on the backlog)."""
    settings = core.settings
    checkpointer = AuditCheckpointer(
        core.client,
        core.key.private_key,
        every_n=settings.audit_checkpoint_every,
        every_s=settings.audit_checkpoint_interval_s,
        gateway_id=settings.gateway_id,
        witness=WitnessFile(settings.witness_path),
        replica_fence=core.replica_fence("the audit checkpoint"),
        block_ms=settings.block_ms,  # stops as promptly as the outbox reads
    )
    await checkpointer.start()
    core.closers.push_async_callback(checkpointer.stop)
    return checkpointer


def start_circuit_keeper(core: Core, store: PolicyStore) -> CircuitKeeper | None:
    """With the circuit stage in the chain, keep the circuits and release parked messages."""
    settings = core.settings
    if "circuit" not in settings.stages:
        return None
    keeper = CircuitKeeper(
        core.client,
        store,
        gateway_id=settings.gateway_id,
        key_id=core.key.key_id,
        poll_s=settings.circuit_poll_s,
    )
    keeper.start()
    core.closers.push_async_callback(keeper.stop)
    return keeper


async def start_presence(core: Core, store: PolicyStore) -> GatewayPresence:
    """Publish this process's presence record (``mas gateway list``) and keep it fresh."""
    presence = GatewayPresence(core.client, core.consumer, core.settings.gateway_id, store)
    await presence.start()
    core.closers.push_async_callback(presence.stop)
    return presence
