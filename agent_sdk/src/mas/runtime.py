"""Runtime: the collaborators of one running agent instance, wired together at start."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel

from .acks import AckRetryingLedger
from .consumer import StreamConsumer
from .credentials import Credentials
from .dispatch import Dispatcher, DispatchServices, HandlerHost, Handlers
from .envelope import Delivery
from .handlers import HandlerSpec
from .heartbeat import Heartbeat
from .inbox import inbox_consumer
from .options import AgentOptions
from .registry import Registry
from .requests import PendingRequests
from .state import StateStore
from .transport import Transport, without_retries
from .trust import GatewayTrust
from .watchdog import Watchdog

__all__ = ["LEASE_FRACTION", "Runtime", "build_runtime"]

LEASE_FRACTION = 0.8
"""Handling leases last this fraction of `claim_idle`, so they lapse before a reclaim."""


@dataclass
class Runtime:
    """Everything that exists only while an agent instance runs."""

    redis: aioredis.Redis
    registry: Registry
    store: StateStore[Any]
    loaded_state: BaseModel
    transport: Transport
    requests: PendingRequests
    dispatcher: Dispatcher
    consumer: StreamConsumer
    heartbeat: Heartbeat
    ready: asyncio.Event
    submitter: aioredis.Redis
    """The transport's client (redis-py never resends its commands)."""
    watchdog: Watchdog

    def start_background(self) -> None:
        """Start the resubmission task and watch every long-running task of this instance."""
        tasks = [*self.consumer.tasks, self.heartbeat.task, self.requests.task]
        tasks.append(self.transport.start())
        for task in tasks:
            if task is not None:
                self.watchdog.watch(task)

    async def stop_background(self) -> None:
        """Stop the resubmission task and close the transport's client (at stop)."""
        self.watchdog.close()
        await self.transport.stop()
        await self.submitter.aclose()


async def build_runtime(
    redis: aioredis.Redis,
    creds: Credentials,
    *,
    agent_id: str,
    instance_id: str,
    options: AgentOptions,
    state_model: type[BaseModel],
    host: HandlerHost,
    handlers: Mapping[str, HandlerSpec],
    has_fallback: bool,
    reregister: Callable[[], Awaitable[None]],
    watchdog: Watchdog,
) -> Runtime:
    """Load state and wire the collaborators of a connected agent (nothing runs yet)."""
    trust = GatewayTrust(
        redis,
        creds,
        configured_key=options.gateway_public_key,
        trust_on_first_use=options.provisioning_allowed,
    )
    await trust.refresh_if_unpinned()
    store = StateStore(redis, agent_id, state_model)
    loaded = await store.load()
    registry = Registry(redis, agent_id, instance_id)
    submitter = without_retries(redis)
    transport = Transport(submitter, creds, options)
    ready = asyncio.Event()
    dispatcher: Dispatcher | None = None

    async def verify(entry_id: str, fields: dict[str, bytes]) -> Delivery | None:
        assert dispatcher is not None
        return await dispatcher.verify(entry_id, fields)

    requests = PendingRequests(
        redis, agent_id, instance_id, verify, resubmit=transport.retry_rate_limited
    )
    transport.on_lost = requests.fail
    ledger = AckRetryingLedger(
        redis, agent_id, dedup_ttl=options.dedup_ttl, lease=options.claim_idle * LEASE_FRACTION
    )
    dispatcher = Dispatcher(
        agent_id=agent_id,
        owner=instance_id,
        handlers=Handlers(host, handlers, has_fallback),
        services=DispatchServices(trust, ledger, requests, transport, registry),
        max_deliveries=options.max_deliveries,
        ready=ready,
    )
    consumer = inbox_consumer(
        redis,
        agent_id,
        f"{agent_id}-{instance_id}",
        options,
        dispatcher.process,
        keepalive=dispatcher.refresh_leases,
    )
    heartbeat = Heartbeat(
        registry,
        interval=options.heartbeat_interval,
        ttl=options.heartbeat_ttl,
        reregister=reregister,
    )
    return Runtime(
        redis=redis,
        registry=registry,
        store=store,
        loaded_state=loaded,
        transport=transport,
        requests=requests,
        dispatcher=dispatcher,
        consumer=consumer,
        heartbeat=heartbeat,
        ready=ready,
        submitter=submitter,
        watchdog=watchdog,
    )
