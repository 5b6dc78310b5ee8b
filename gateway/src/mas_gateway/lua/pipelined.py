"""Run one Lua script for many items of a batch in a single round trip.

redis-py's pipelined `Script` asks the server ``SCRIPT EXISTS`` before every
pipeline (a second round trip per batch). `PipelinedScript` sends ``EVALSHA``
straight away; a call the server answers with ``NOSCRIPT`` (after a restart or a
``SCRIPT FLUSH``) did not run at all, so the script is loaded and only those calls
are sent again. Each call stays its own atomic script execution.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

__all__ = ["PipelinedScript", "ScriptCall"]

_ATTEMPTS = 3
"""Rounds before a ``NOSCRIPT`` is an error (only a server flushing scripts meanwhile)."""

ScriptCall = tuple[Sequence[str], Sequence[bytes | str | int | float]]
"""The keys and the arguments of one execution."""


class PipelinedScript:
    """A Lua script executed once per item, all items pipelined in one round trip."""

    def __init__(self, client: aioredis.Redis, source: str) -> None:
        self._client = client
        self._source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    async def run(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """The script's reply to each call, in order.

        Raises:
            The first error reply (a Redis error is not a verdict: see `processor`), or
            the connection error of the round trip.
        """
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(_ATTEMPTS):
            async with self._client.pipeline(transaction=False) as pipe:
                for index in todo:
                    keys, args = calls[index]
                    pipe.evalsha(self.sha, len(keys), *keys, *args)
                answers = await pipe.execute(raise_on_error=False)
            missing: list[int] = []
            for index, answer in zip(todo, answers, strict=True):
                if isinstance(answer, NoScriptError) and attempt + 1 < _ATTEMPTS:
                    missing.append(index)
                elif isinstance(answer, Exception):
                    raise answer
                else:
                    replies[index] = answer
            if not missing:
                break
            await self._client.script_load(self._source)  # type: ignore[misc]
            todo = missing
        return replies
