"""An agent process for the crash test: records each completed handler run in Redis.

Usage: python crash_agent.py AGENT_ID   (Redis URL, credentials and gateway key from env)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import redis.asyncio as aioredis

from mas import Agent, AgentMessage
from mas.redis_connect import connect_redis

HANDLED = "test:handled"
"""Hash message_id -> number of completed handler runs."""


class Worker(Agent):
    def __init__(self, agent_id: str, redis: aioredis.Redis) -> None:
        super().__init__(
            agent_id,
            heartbeat_interval=0.2,
            heartbeat_ttl=1.0,
            claim_idle=float(os.environ.get("CRASH_CLAIM_IDLE", "0.5")),
            concurrency=8,
            block_ms=50,
        )
        self.redis = redis

    @Agent.on("work")
    async def work(self, message: AgentMessage, payload: None) -> None:
        await asyncio.sleep(0.005)  # the work itself
        await self.redis.hincrby(HANDLED, message.message_id, 1)


async def main(agent_id: str) -> None:
    redis = connect_redis(os.environ["MAS_REDIS_URL"])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Worker(agent_id, redis):
        print("ready", flush=True)
        await stop.wait()
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
