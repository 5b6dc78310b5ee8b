"""State: JSON-encoded hash fields, exact round-trips, schema drift warnings, reset."""

from __future__ import annotations

import enum
import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from mas import Agent, keys

from .conftest import FAST


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str = ""
    zip: int = 0


class Rich(BaseModel):
    count: int = 0
    address: Address = Field(default_factory=Address)
    tags: list[str] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    seen: datetime | None = None
    color: Color = Color.RED
    history: list[Address] = Field(default_factory=list)


class RichAgent(Agent[Rich]):
    pass


async def test_state_round_trips_exactly(sdk_env: str, redis_client: aioredis.Redis) -> None:
    seen = datetime(
        2024, 5, 17, 13, 45, 12, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    changes = {
        "count": 7,
        "address": Address(street="Main 1", zip=12345),
        "tags": ["a", "b"],
        "scores": {"x": 1.5, "y": -2.0},
        "seen": seen,
        "color": Color.BLUE,
        "history": [Address(street="Old 2", zip=1)],
    }
    async with RichAgent("rich", **FAST) as agent:
        await agent.update_state(changes)
        expected = agent.state.model_copy()
    stored = await redis_client.hgetall(keys.agent_state("rich"))
    assert json.loads(stored[b"color"]) == "blue"
    assert json.loads(stored[b"address"]) == {"street": "Main 1", "zip": 12345}
    async with RichAgent("rich", **FAST) as again:
        assert again.state == expected
        assert again.state.seen == seen
        assert again.state.seen is not None and again.state.seen.utcoffset() == seen.utcoffset()
        assert again.state.color is Color.BLUE
        assert isinstance(again.state.history[0], Address)


async def test_class_parameter_selects_state_model(sdk_env: str) -> None:
    agent = RichAgent("typed")
    assert isinstance(agent.state, Rich)


async def test_update_state_rejects_unknown_and_invalid_fields(sdk_env: str) -> None:
    async with RichAgent("strict", **FAST) as agent:
        with pytest.raises(ValueError, match="unknown field"):
            await agent.update_state({"nope": 1})
        with pytest.raises(ValueError, match="count"):
            await agent.update_state({"count": "many"})
        assert agent.state.count == 0


async def test_schema_drift_warns_and_keeps_good_fields(
    sdk_env: str, redis_client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await redis_client.hset(
        keys.agent_state("drift"),
        mapping={
            "count": json.dumps(3),
            "tags": json.dumps("not a list"),
            "color": json.dumps("green"),
            "removed_field": json.dumps(1),
            "scores": "{broken",
        },
    )
    with caplog.at_level(logging.WARNING, logger="mas.state"):
        async with RichAgent("drift", **FAST) as agent:
            assert agent.state.count == 3
            assert agent.state.tags == []
            assert agent.state.color is Color.RED
            assert agent.state.scores == {}
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for name in ("tags", "color", "removed_field", "scores"):
        assert name in warning
    assert "count" not in warning.split("field(s)")[1].split("(")[0]
    assert await redis_client.hget(keys.agent_state("drift"), "count") == b"3"


async def test_reset_state(sdk_env: str, redis_client: aioredis.Redis) -> None:
    async with RichAgent("resetter", **FAST) as agent:
        await agent.update_state({"count": 5})
        await agent.reset_state()
        assert agent.state.count == 0
    assert not await redis_client.exists(keys.agent_state("resetter"))


async def test_default_state_accepts_any_field(sdk_env: str) -> None:
    async with Agent("loose", **FAST) as agent:
        await agent.update_state({"status": "busy", "when": datetime(2024, 1, 1, tzinfo=UTC)})
    async with Agent("loose", **FAST) as again:
        assert again.state.model_dump() == {"status": "busy", "when": "2024-01-01T00:00:00Z"}


class NeedsValue(BaseModel):
    required: int


def test_state_model_without_defaults_is_a_clear_error() -> None:
    from mas import ConfigError

    with pytest.raises(ConfigError, match="required"):
        Agent("x", state_model=NeedsValue)


async def test_state_requires_started_agent() -> None:
    agent = RichAgent("idle")
    with pytest.raises(RuntimeError, match="start"):
        await agent.update_state({"count": 1})


async def test_untyped_state_reads_as_a_mapping_and_by_attribute(sdk_env: str) -> None:
    async with Agent("my_agent", heartbeat_interval=0.2, heartbeat_ttl=1.0, block_ms=50) as agent:
        await agent.update_state({"status": "x", "count": 2})
        state = agent.state
        assert state["status"] == "x" and state.status == "x"  # type: ignore[attr-defined]
        assert "status" in state and "missing" not in state
        assert state.get("missing") is None and state.get("missing", 0) == 0
        assert list(state) == list(state.keys()) == ["status", "count"]
        assert dict(state.items()) == {"status": "x", "count": 2} == dict(state)
        assert list(state.values()) == ["x", 2] and len(state) == 2
        with pytest.raises(KeyError):
            state["missing"]
