"""System events published on ``mas.system``: REGISTER, DEREGISTER and STATUS."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import redis.asyncio as aioredis

from . import keys

__all__ = ["EventType", "publish_event"]

EventType = Literal["REGISTER", "DEREGISTER", "STATUS"]


async def publish_event(
    redis: aioredis.Redis, event: EventType, agent_id: str, **details: Any
) -> None:
    """Publish one JSON event ``{"type", "agent_id", "timestamp", ...details}``."""
    body = {"type": event, "agent_id": agent_id, "timestamp": time.time(), **details}
    await redis.publish(keys.SYSTEM_CHANNEL, json.dumps(body, separators=(",", ":")))
