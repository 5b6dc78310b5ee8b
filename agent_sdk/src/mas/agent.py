"""Agent: the base class users subclass; it wires small collaborators and exposes the seed API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import (
    Any,
    ClassVar,
    Generic,
    Literal,
    Self,
    cast,
    get_args,
    get_origin,
    overload,
)

import redis.asyncio as aioredis
from pydantic import BaseModel
from typing_extensions import TypeVar

from .connection import connect_agent
from .credentials import Credentials
from .envelope import new_message_id
from .errors import BackgroundTaskDied
from .handlers import (
    HandlerSpec,
    ModelHandler,
    ModelT,
    PlainHandler,
    SelfT,
    check_message_type,
    collect_handlers,
)
from .handlers import on as register_handler
from .inbox import check_inbox_group
from .message import AgentMessage
from .options import AgentOptions, resolve_redis_url
from .records import check_agent_id
from .runtime import Runtime, build_runtime
from .state import DefaultState, build_state
from .transport import check_message_id
from .watchdog import Watchdog

__all__ = ["Agent"]

logger = logging.getLogger(__name__)

StateT = TypeVar("StateT", bound=BaseModel, default=DefaultState)


def _check_capabilities(capabilities: Iterable[str] | None) -> list[str]:
    if isinstance(capabilities, str):
        raise TypeError("capabilities must be a list of names, not a single string")
    out: list[str] = []
    for cap in capabilities or ():
        if not isinstance(cap, str) or not cap.strip():
            raise ValueError(f"invalid capability {cap!r}: use a non-empty string")
        if cap not in out:
            out.append(cap)
    return out


class Agent(Generic[StateT]):
    """An agent: typed handlers, persisted state, discovery, messaging through the gateway.

    Subclass it, declare handlers with ``@Agent.on("type", model=Model)``, then
    ``await agent.start()`` (or ``async with agent:``). Options beyond the named
    parameters are listed in `mas.options.AgentOptions`.
    """

    @overload
    @staticmethod
    def on(
        message_type: str, *, model: type[ModelT]
    ) -> Callable[[ModelHandler[SelfT, ModelT]], ModelHandler[SelfT, ModelT]]: ...

    @overload
    @staticmethod
    def on(
        message_type: str, *, model: None = None
    ) -> Callable[[PlainHandler[SelfT]], PlainHandler[SelfT]]: ...

    @staticmethod
    def on(message_type: str, *, model: type[BaseModel] | None = None) -> Any:
        """Declare the decorated async method as the handler of `message_type`.

        With `model`, the payload is validated into it (a failure is dead-lettered
        and reported to the sender as 422); without, the handler's payload is None.
        """
        return register_handler(message_type, model=model)

    _handlers: ClassVar[dict[str, HandlerSpec]] = {}
    _class_state_model: ClassVar[type[BaseModel] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = collect_handlers(cls)
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Agent):
                args = get_args(base)
                if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
                    cls._class_state_model = args[0]

    def __init__(
        self,
        agent_id: str,
        capabilities: Iterable[str] | None = None,
        redis_url: str | None = None,
        state_model: type[StateT] | None = None,
        use_gateway: bool = True,
        **options: Any,
    ) -> None:
        check_agent_id(agent_id)
        if not use_gateway:
            raise ValueError(
                "use_gateway=False is not supported: every message goes through the gateway"
            )
        self.agent_id = agent_id
        self.capabilities = _check_capabilities(capabilities)
        self.redis_url = resolve_redis_url(redis_url)
        self.options = AgentOptions.from_kwargs(options)
        model = state_model or type(self)._class_state_model or DefaultState
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError("state_model must be a pydantic model class")
        self._state_model = cast("type[StateT]", model)
        self._state: StateT = build_state(self._state_model)
        self.instance_id = uuid.uuid4().hex
        self._session: Runtime | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._failure: BackgroundTaskDied | None = None
        self._stopped = asyncio.Event()
        self._reaper: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        running = "running" if self._session else "stopped"
        return f"<{type(self).__name__} {self.agent_id!r} {running}>"

    # --- lifecycle ---------------------------------------------------------------

    @property
    def id(self) -> str:
        """The agent id."""
        return self.agent_id

    @property
    def running(self) -> bool:
        """True between a successful `start()` and `stop()`."""
        return self._session is not None and self._session.ready.is_set()

    async def start(self) -> None:
        """Connect, check credentials, load state, register, then run `on_start` and handlers."""
        if self._session is not None:
            raise RuntimeError(f"agent {self.agent_id!r} is already started")
        redis, credentials = await connect_agent(self.agent_id, self.options, self.redis_url)
        self._failure = None
        self._stopped.clear()
        try:
            self._session = await self._open(redis, credentials)
            await self._session.consumer.start()
            self._session.heartbeat.start()
            self._session.start_background()
            await self.on_start()
            self._session.ready.set()
        except BaseException:
            await self._close(run_hook=False)
            await redis.aclose()
            raise

    async def _open(self, redis: aioredis.Redis, credentials: Credentials) -> Runtime:
        watchdog = Watchdog(f"agent {self.agent_id}", self._died)
        runtime = await build_runtime(
            redis,
            credentials,
            agent_id=self.agent_id,
            instance_id=self.instance_id,
            options=self.options,
            state_model=self._state_model,
            host=self,
            handlers=type(self)._handlers,
            has_fallback=type(self).on_message is not Agent.on_message,
            reregister=self._register,
            watchdog=watchdog,
        )
        self._state = cast("StateT", runtime.loaded_state)
        self._session = runtime
        await check_inbox_group(redis, self.agent_id)
        await self._register()
        await runtime.requests.start(runtime.dispatcher.make_message)
        return runtime

    async def _register(self) -> None:
        session = self._require()
        await session.registry.register(
            self.capabilities, dict(self.get_metadata()), self.options.heartbeat_ttl
        )

    def _died(self, failure: BackgroundTaskDied) -> None:
        """A background task died: remember why and stop (`run()` raises it)."""
        self._failure = failure
        self._reaper = asyncio.get_running_loop().create_task(
            self.stop(), name=f"mas-stop-{self.agent_id}"
        )

    async def run(self) -> None:
        """Start, then run until `stop()` is called or SIGINT/SIGTERM arrives; then stop.

        Raises:
            BackgroundTaskDied: one of the agent's long-running tasks died; the agent
                stopped (a supervisor should restart the process).
        """
        await self.start()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._stopped.set)
        try:
            await self._stopped.wait()
        finally:
            for sig in signals:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            await self.stop()
        if self._failure is not None:
            raise self._failure

    async def stop(self) -> None:
        """Finish running handlers, run `on_stop`, deregister and disconnect. Idempotent."""
        if self._stopping is not None:
            await asyncio.shield(self._stopping)
            return
        session = self._session
        if session is None:
            return
        self._stopping = asyncio.get_running_loop().create_future()
        try:
            await self._close(run_hook=True)
        finally:
            await session.redis.aclose()
            self._stopping.set_result(None)
            self._stopping = None
            self._stopped.set()

    async def _close(self, *, run_hook: bool) -> None:
        session = self._session
        if session is None:
            return
        # Before on_start finished, nothing ran yet: release claimed entries at once.
        timeout = self.options.stop_timeout if session.ready.is_set() else 0.0
        session.watchdog.close()
        try:
            await session.consumer.stop(timeout)
            if run_hook:
                await self.on_stop()
        finally:
            await session.requests.stop()
            await session.heartbeat.stop()
            try:
                await session.registry.deregister()
            except Exception:
                logger.exception("agent %s could not deregister cleanly", self.agent_id)
            await session.stop_background()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _require(self) -> Runtime:
        if self._failure is not None:
            raise self._failure
        if self._session is None:
            raise RuntimeError(f"agent {self.agent_id!r} is not started; call start() first")
        return self._session

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no message for this agent is unread, pending or being handled.

        Raises:
            TimeoutError: work remains after `timeout` seconds.
        """
        await self._require().consumer.wait_idle(timeout)

    # --- messaging ---------------------------------------------------------------

    async def send(
        self,
        target: str,
        message_type: str,
        data: Mapping[str, Any] | BaseModel | None = None,
        *,
        message_id: str | None = None,
    ) -> str:
        """Submit a message to `target` through the gateway; returns its message id.

        Pass your own `message_id` to make a retry of the same message safe: the
        gateway delivers one message id (of one sender) once. Redis outages are
        retried for `submit_retry_s`, a 429 is resubmitted after `retry_after`.
        """
        check_message_type(message_type)
        if message_id is not None:
            check_message_id(message_id)
        envelope = await self._require().transport.submit(
            target, message_type, data, message_id=message_id
        )
        return envelope.message_id

    async def request(
        self,
        target: str,
        message_type: str,
        data: Mapping[str, Any] | BaseModel | None = None,
        *,
        timeout: float = 30.0,
        message_id: str | None = None,
    ) -> AgentMessage:
        """Send and wait for the correlated reply.

        `message_id` (your own, for a safe retry) is also the request's correlation id,
        so a retried request is answered by the reply to the first one, if it is still
        to come; only one request per message id may wait at a time.

        Raises:
            asyncio.TimeoutError: no reply within `timeout` seconds (its message names the
                target and asks whether a gateway runs).
            MessageRejected: the gateway refused the message, or the receiver's model its payload.
        """
        check_message_type(message_type)
        if timeout <= 0:
            raise ValueError("request(timeout=...) must be > 0")
        if message_id is not None:
            check_message_id(message_id)
        session = self._require()
        correlation_id = message_id or new_message_id()
        future, mark = session.requests.register(correlation_id, target, timeout)
        try:
            await session.transport.submit(
                target,
                message_type,
                data,
                correlation_id=correlation_id,
                message_id=correlation_id,
                expects_reply=True,
                pending=mark,
            )
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"no reply from {target!r} to {message_type!r} within {timeout:g} s: is a "
                    "gateway running (`mas gateway` prints 'mas gateway: ready'), and the "
                    "target?"
                ) from None
        finally:
            session.transport.forget(correlation_id)
            await session.requests.discard(correlation_id)

    async def discover(
        self,
        capabilities: Iterable[str] | None = None,
        match: Literal["any", "all"] = "any",
    ) -> list[dict[str, Any]]:
        """Live agents with any (default) or all of `capabilities`; all live agents if none."""
        return await self._require().registry.discover(capabilities, match)

    # --- state -------------------------------------------------------------------

    @property
    def state(self) -> StateT:
        """The agent's typed state (persisted by `update_state`)."""
        return self._state

    async def update_state(self, changes: Mapping[str, Any]) -> None:
        """Validate and persist `changes` (field -> value) to Redis and to `state`."""
        store = self._require().store
        self._state = await store.update(self._state, dict(changes))

    async def reset_state(self) -> None:
        """Delete the persisted state and go back to the model's defaults."""
        self._state = await self._require().store.reset()

    # --- hooks -------------------------------------------------------------------

    async def on_start(self) -> None:
        """Called after registration, before handlers run."""

    async def on_stop(self) -> None:
        """Called after the last handler finished, before deregistration."""

    async def on_message(self, message: AgentMessage) -> None:
        """Fallback for message types without a handler (when not overridden: dead-lettered)."""
        logger.warning(
            "agent %s has no handler for message type %r", self.agent_id, message.message_type
        )

    async def on_rejected(self, notice: AgentMessage) -> None:
        """A rejection or error report that matches no pending request; logs a warning."""
        logger.warning(
            "agent %s: message %s was refused (%s): %s",
            self.agent_id,
            notice.data.get("message_id"),
            notice.data.get("code"),
            notice.data.get("reason"),
        )

    def get_metadata(self) -> dict[str, Any]:
        """Metadata published in the registry record for discovery."""
        return {}
