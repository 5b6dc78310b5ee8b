"""User code that must type-check (basedpyright runs on this file) and also runs."""

from __future__ import annotations

from typing import Any, assert_type

from pydantic import BaseModel

from mas import Agent, AgentMessage
from mas.state import DefaultState


class Counter(BaseModel):
    count: int = 0
    label: str = ""


class Order(BaseModel):
    item: str
    quantity: int = 1


class Shop(Agent[Counter]):
    @Agent.on("order.place", model=Order)
    async def place(self, message: AgentMessage, payload: Order) -> None:
        assert_type(payload, Order)
        assert_type(self.state, Counter)
        self.state.count += payload.quantity
        await self.update_state({"count": self.state.count})
        await message.reply("order.placed", {"count": self.state.count})

    @Agent.on("ping")
    async def ping(self, message: AgentMessage, payload: None) -> None:
        assert_type(message.data, dict[str, Any])
        await message.reply("pong", Counter(count=1))


def test_subclass_state_is_typed() -> None:
    shop = Shop("shop")
    assert_type(shop.state, Counter)
    assert shop.state == Counter()


def test_state_model_argument_infers_type() -> None:
    agent = Agent("plain", state_model=Counter)
    assert_type(agent, Agent[Counter])
    assert_type(agent.state.count, int)
    assert agent.state.label == ""


def test_default_state_without_model() -> None:
    agent = Agent("loose", capabilities=["x"])
    assert_type(agent, Agent[DefaultState])
    assert isinstance(agent.state, DefaultState)


def test_decorator_keeps_the_method() -> None:
    assert Shop.place.__name__ == "place"
    assert set(Shop._handlers) == {"order.place", "ping"}
    assert Shop._handlers["order.place"].model is Order
    assert Shop._handlers["ping"].model is None
