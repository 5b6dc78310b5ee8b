"""Every example of the seed README, as written, against the test Redis and a real gateway.

Adaptations: the Redis URL comes from ``MAS_REDIS_URL`` (the `sdk_env` fixture),
long sleeps are replaced by waiting until the messages were handled, and where an
example sends to an agent it does not start, the test starts that agent.
"""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from mas import Agent, AgentMessage, MASService, keys
from mas_gateway import GatewayService

from .conftest import settle

# --- Quick start ------------------------------------------------------------------


class MyState(BaseModel):
    processed: int = 0


class ReplyRequest(BaseModel):
    hello: str


class MyAgent(Agent[MyState]):
    def __init__(self, agent_id: str, **kwargs):
        super().__init__(agent_id, state_model=MyState, **kwargs)

    @Agent.on("greeting.message", model=ReplyRequest)
    async def handle_greeting(self, message: AgentMessage, payload: ReplyRequest):
        # Use strongly-typed state
        self.state.processed += 1
        await self.update_state({"processed": self.state.processed})
        await message.reply(
            "reply.message", {"reply": f"got {payload.hello}", "count": self.state.processed}
        )


async def test_quick_start(
    gateway_service: GatewayService,
    redis_client: aioredis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = MyAgent("other_agent")
    await other.start()

    # Create and start agent
    agent = MyAgent("my_agent", capabilities=["chat", "nlp"])
    await agent.start()
    # Send typed message to another agent
    await agent.send("other_agent", "greeting.message", {"hello": "world"})
    # Discover agents by capability
    agents = await agent.discover(capabilities=["nlp"])
    print(f"Found {len(agents)} NLP agents")

    await settle(gateway_service, other, agent)
    reply = await agent.request("other_agent", "greeting.message", {"hello": "again"}, timeout=10)
    # Stop agent
    await agent.stop()
    await other.stop()

    assert capsys.readouterr().out == "Found 1 NLP agents\n"
    assert other.state.processed == 2
    assert reply.data == {"reply": "got again", "count": 2}
    # my_agent has no handler for the first, uncorrelated reply: it is dead-lettered, not lost
    [(_, letter)] = await redis_client.xrange(keys.agent_dlq("my_agent"))
    assert letter[b"dlq_reason"] == b"no handler for message type 'reply.message'"
    assert json.loads(letter[b"envelope"])["data"] == {"reply": "got world", "count": 1}


# --- Decorator-based handlers -------------------------------------------------------


class GreetingRequest(BaseModel):
    name: str
    language: str = "en"


class TypedState(BaseModel):
    greetings_handled: int = Field(default=0)
    status_checks: int = Field(default=0)


class TypedAgent(Agent[TypedState]):
    def __init__(self, agent_id: str, **kwargs):
        super().__init__(agent_id, state_model=TypedState, **kwargs)

    @Agent.on("greeting.request", model=GreetingRequest)
    async def handle_greeting(self, message: AgentMessage, payload: GreetingRequest):
        """Handle greeting requests with typed payload"""
        self.state.greetings_handled += 1
        greeting = (
            f"Hello, {payload.name}!" if payload.language == "en" else f"Hola, {payload.name}!"
        )
        await self.update_state({"greetings_handled": self.state.greetings_handled})
        await message.reply(
            "greeting.response", {"greeting": greeting, "handled": self.state.greetings_handled}
        )

    @Agent.on("status.check")
    async def handle_status(self, message: AgentMessage, payload: None):
        """Handle status checks"""
        self.state.status_checks += 1
        await self.update_state({"status_checks": self.state.status_checks})
        await message.reply(
            "status.response", {"status": "healthy", "checks": self.state.status_checks}
        )


async def test_decorator_based_handlers(gateway_service: GatewayService) -> None:
    agent = TypedAgent("typed_agent")
    await agent.start()
    async with Agent("client") as client:
        hello = await client.request("typed_agent", "greeting.request", {"name": "Ana"})
        hola = await client.request(
            "typed_agent", "greeting.request", {"name": "Ana", "language": "es"}
        )
        status = await client.request("typed_agent", "status.check", {})
    await agent.stop()
    assert hello.data == {"greeting": "Hello, Ana!", "handled": 1}
    assert hola.data == {"greeting": "Hola, Ana!", "handled": 2}
    assert status.data == {"status": "healthy", "checks": 1}


# --- Gateway mode -----------------------------------------------------------------------


async def test_gateway_mode(gateway_service: GatewayService) -> None:
    received: list[dict[str, str]] = []

    class Target(Agent):
        async def on_message(self, message: AgentMessage) -> None:
            received.append(message.data)

    target = Target("target_agent")
    await target.start()

    # Enable gateway mode
    agent = Agent("my_agent", use_gateway=True)
    await agent.start()
    # Messages now routed through gateway
    await agent.send("target_agent", "test.message", {"data": "hello"})
    await settle(gateway_service, target, hops=1)
    await agent.stop()

    await target.stop()
    assert received == [{"data": "hello"}]


# --- Auto-persisted state ---------------------------------------------------------------


class CounterState(BaseModel):
    counter: int = 0
    status: str = "idle"


class CounterAgent(Agent[CounterState]):
    def __init__(self, agent_id: str, **kwargs):
        super().__init__(agent_id, state_model=CounterState, **kwargs)


async def test_state_survives_restarts(sdk_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    agent = CounterAgent("my_agent")
    await agent.start()
    await agent.update_state({"counter": 42, "status": "active"})
    print(agent.state.counter)  # 42
    await agent.stop()

    # State survives restarts
    agent2 = CounterAgent("my_agent")  # Same ID
    await agent2.start()
    print(agent2.state.counter)  # Still 42
    await agent2.stop()
    assert capsys.readouterr().out == "42\n42\n"
    assert agent2.state.status == "active"


# --- Discovery -----------------------------------------------------------------------------


async def test_discovery(sdk_env: str) -> None:
    # Register with capabilities
    agent = Agent("my_agent", capabilities=["nlp", "text", "translation"])
    await agent.start()

    # Discover by capability
    nlp_agents = await agent.discover(capabilities=["nlp"])
    # Discover all active agents
    all_agents = await agent.discover()

    await agent.stop()
    assert [(r["id"], r["capabilities"]) for r in nlp_agents] == [
        ("my_agent", ["nlp", "text", "translation"])
    ]
    assert [r["id"] for r in all_agents] == ["my_agent"]


# --- Lifecycle hooks -----------------------------------------------------------------------


class HookAgent(Agent):
    async def on_start(self):
        """Called when agent starts"""
        print("Agent starting...")
        await self.update_state({"status": "initializing"})

    async def on_stop(self):
        """Called when agent stops"""
        print("Agent stopping...")


async def test_lifecycle_hooks(
    sdk_env: str, redis_client: aioredis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = HookAgent("my_agent")
    await agent.start()
    await agent.stop()
    assert capsys.readouterr().out == "Agent starting...\nAgent stopping...\n"
    assert await redis_client.hget(keys.agent_state("my_agent"), "status") == b'"initializing"'


# --- Strongly-typed state -------------------------------------------------------------------


class TypedFieldsState(BaseModel):
    counter: int = Field(default=0)
    name: str = Field(default="")
    active: bool = Field(default=True)


async def test_strongly_typed_state(sdk_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    agent = Agent("my_agent", state_model=TypedFieldsState)
    await agent.start()
    # State is now typed
    await agent.update_state({"counter": 42})
    print(agent.state.counter)  # Properly typed as int
    await agent.stop()
    assert capsys.readouterr().out == "42\n"
    assert agent.state == TypedFieldsState(counter=42)


# --- Metadata ----------------------------------------------------------------------------------


class MetadataAgent(Agent):
    def get_metadata(self) -> dict:
        return {"version": "1.0.0", "model": "gpt-4", "region": "us-east-1"}


async def test_metadata(sdk_env: str, redis_client: aioredis.Redis) -> None:
    agent = MetadataAgent("my_agent")
    await agent.start()
    # Metadata is now available in agent registry
    found = await agent.discover()
    await agent.stop()
    assert found[0]["metadata"] == {"version": "1.0.0", "model": "gpt-4", "region": "us-east-1"}
    stored = await redis_client.hget(keys.agent_record("my_agent"), "metadata")
    assert stored is not None and json.loads(stored)["model"] == "gpt-4"


# --- Chat agent (the seed leaves `summarize` to the user; this one truncates) -----------------


class ChatRequest(BaseModel):
    text: str
    user_id: str


class SummarizeRequest(BaseModel):
    text: str


class ChatState(BaseModel):
    messages: int = Field(default=0)
    summaries: int = Field(default=0)


class ChatAgent(Agent[ChatState]):
    def __init__(self, agent_id: str, **kwargs):
        super().__init__(agent_id, state_model=ChatState, **kwargs)

    @Agent.on("chat.message", model=ChatRequest)
    async def handle_chat(self, message: AgentMessage, payload: ChatRequest):
        """Handle chat messages with typed payload"""
        self.state.messages += 1
        response = f"You said: {payload.text}"
        await self.update_state({"messages": self.state.messages})
        await message.reply("chat.response", {"response": response, "count": self.state.messages})

    @Agent.on("summarize.request", model=SummarizeRequest)
    async def handle_summarize(self, message: AgentMessage, payload: SummarizeRequest):
        """Handle summarize requests"""
        self.state.summaries += 1
        await self.update_state({"summaries": self.state.summaries})
        summary = self.summarize(payload.text)
        await message.reply(
            "summarize.response", {"summary": summary, "count": self.state.summaries}
        )

    def summarize(self, text: str) -> str:
        return text.split(".")[0] + "."


async def test_chat_agent(gateway_service: GatewayService) -> None:
    agent = ChatAgent("chat_agent")
    await agent.start()
    async with Agent("client") as client:
        chat = await client.request("chat_agent", "chat.message", {"text": "hi", "user_id": "u1"})
        summary = await client.request(
            "chat_agent", "summarize.request", {"text": "First. Second."}
        )
    await agent.stop()
    assert chat.data == {"response": "You said: hi", "count": 1}
    assert summary.data == {"summary": "First.", "count": 1}


# --- Multi-agent system ---------------------------------------------------------------------


async def test_multi_agent_system(
    gateway_service: GatewayService, redis_client: aioredis.Redis
) -> None:
    # Start MAS service
    service = MASService()
    await service.start()

    # Create multiple agents
    agents = [
        Agent("agent_1", capabilities=["nlp"]),
        Agent("agent_2", capabilities=["vision"]),
        Agent("agent_3", capabilities=["math"]),
    ]

    # Start all
    for agent in agents:
        await agent.start()

    # Agents can now discover and message each other
    nlp_agents = await agents[1].discover(capabilities=["nlp"])
    await agents[1].send("agent_1", "task.message", {"task": "analyze text"})

    # Let agents run
    await settle(gateway_service, *agents, hops=1)

    # Stop all
    for agent in agents:
        await agent.stop()

    await service.stop()
    assert [r["id"] for r in nlp_agents] == ["agent_1"]
    # agent_1 declares no handler: the message is kept in the dead-letter stream, not lost
    [(_, letter)] = await redis_client.xrange(keys.agent_dlq("agent_1"))
    assert letter[b"dlq_source"] == b"agent_1"
    assert json.loads(letter[b"envelope"])["data"] == {"task": "analyze text"}


async def test_mas_service_programmatic(sdk_env: str) -> None:
    service = MASService(redis_url=sdk_env)
    await service.start()
    # Service runs in background
    assert service.running
    await service.stop()
    assert not service.running
