"""A send encodes its envelope once: data JSON cannot carry is refused before Redis sees it."""

from __future__ import annotations

import datetime
from typing import cast

import pytest
import redis.asyncio as aioredis

from mas import Agent, keys
from mas.envelope import parse_envelope

from .conftest import FAST


@pytest.mark.parametrize(
    "value", [{1, 2}, b"raw", datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)]
)
async def test_data_json_cannot_carry_is_refused_and_nothing_is_submitted(
    sdk_env: str, redis_client: aioredis.Redis, value: object
) -> None:
    async with Agent("encoder", **FAST) as agent:
        with pytest.raises(TypeError, match="not JSON-serializable"):
            await agent.send("peer", "t.kind", {"value": value, "secret": "s3cr3t"})
        await agent.send("peer", "t.kind", {"value": [1, 2]})
    entries = cast(
        "list[tuple[bytes, dict[bytes, bytes]]]",
        await redis_client.xrange(keys.agent_outbox("encoder")),
    )
    assert len(entries) == 1
    assert parse_envelope(entries[0][1][b"envelope"]).data == {"value": [1, 2]}


async def test_the_refusal_names_no_payload_value(sdk_env: str) -> None:
    async with Agent("encoder", **FAST) as agent:
        with pytest.raises(TypeError) as raised:
            await agent.send("peer", "t.kind", {"value": {1, 2}, "secret": "s3cr3t"})
    assert "s3cr3t" not in str(raised.value)
