"""EventRelay: republishes agents' own registry events on ``mas.system``, checked.

Each agent may publish only on its own channel ``agent.events:{id}``, so the
channel names the publisher; the relay drops any event whose body claims another
agent id and forwards the rest to ``mas.system``, which only the service writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .. import keys
from ..outage import Outage
from ..redis_text import as_text
from .stats import ServiceStats

__all__ = ["EventRelay"]

logger = logging.getLogger(__name__)

_PATTERN = keys.agent_events_channel("*")
_PREFIX, _SUFFIX = _PATTERN.split("*")


def _channel_owner(channel: str) -> str | None:
    if channel.startswith(_PREFIX) and channel.endswith(_SUFFIX):
        return channel[len(_PREFIX) : len(channel) - len(_SUFFIX)]
    return None


_MAX_EVENT = 16_384
"""Bytes; a registry event is far smaller."""


def checked_event(channel: str, data: bytes | str) -> bytes | None:
    """The event to forward, or None when it is malformed or claims another agent."""
    owner = _channel_owner(channel)
    if len(data) > _MAX_EVENT:
        return None
    try:
        body: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if owner is None or not isinstance(body, dict) or body.get("agent_id") != owner:
        return None
    if body.get("type") not in ("REGISTER", "DEREGISTER", "STATUS"):
        return None
    return json.dumps(body, separators=(",", ":")).encode()


class EventRelay:
    """Listens on every agent's event channel and forwards checked events."""

    def __init__(self, redis: aioredis.Redis, stats: ServiceStats | None = None) -> None:
        self._redis = redis
        self._stats = stats if stats is not None else ServiceStats()
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> asyncio.Task[None]:
        """Subscribe, then forward in the background; return the forwarding task."""
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(_PATTERN)
        self._task = asyncio.create_task(self._run(), name="mas-service-relay")
        return self._task

    async def stop(self) -> None:
        """Stop forwarding."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None

    async def _run(self) -> None:
        outage = Outage("MAS service event relay", logger)
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                outage.recovered()
                self._stats.progress["event_relay"].tick()
                if message is None or message.get("type") != "pmessage":
                    continue
                event = checked_event(as_text(message["channel"]), message["data"])
                if event is None:
                    logger.warning("dropped a malformed or forged event on %s",
                                   as_text(message["channel"]))  # fmt: skip
                    self._stats.events_dropped += 1
                    continue
                await self._redis.publish(keys.SYSTEM_CHANNEL, event)
                self._stats.events_relayed += 1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                await outage.failed(exc)
                continue
            except Exception:  # an event must never stop the relay
                logger.exception("relaying one agent event failed; going on")
