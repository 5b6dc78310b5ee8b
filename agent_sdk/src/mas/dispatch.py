"""Dispatcher: verifies each stream entry and decides where it goes.

Order for one entry: gateway signature and addressing (else dead letter) →
already handled? (ack) → handled right now elsewhere? (leave pending) →
too many deliveries? (dead letter) → answer to a pending
request? (settle it) → reserved ``mas.*`` notice? (a 429 is resubmitted, others go
to the SDK hook) → handler, whose
payload model must accept the data (else dead letter and report 422 to the sender).
A handler that returns gets its entry acknowledged with a dedup marker; one that
raises leaves it pending for redelivery, up to `max_deliveries`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ValidationError

from . import crypto, keys, meters
from .consumer import Batch, Entry
from .envelope import (
    GATEWAY_SENDER,
    PARKED_TYPE,
    REJECTION_TYPE,
    Delivery,
    Envelope,
    parse_delivered,
    parse_envelope,
    verify_delivery,
)
from .errors import MessageRejected, SignatureError
from .handlers import RESERVED_PREFIX, HandlerSpec, check_message_type
from .ledger import DeliveryLedger
from .logsafe import log_failure
from .message import AgentMessage, SenderCheck
from .registry import Registry
from .requests import ERROR_TYPE, PendingRequests
from .telemetry import consumer_span
from .transport import Transport
from .trust import GatewayTrust
from .validation import validation_summary

__all__ = ["DispatchServices", "Dispatcher", "HandlerHost", "Handlers", "validation_summary"]

logger = logging.getLogger(__name__)

_SENDER_KEY_TTL = 60.0


def ledger_id(envelope: Envelope) -> str:
    """What de-duplication knows a message by: its sender and its message id.

    Message ids are chosen by senders; keyed with the sender, no agent can mark
    another agent's message as already handled.
    """
    return f"{envelope.sender_id}:{envelope.message_id}"


class HandlerHost(Protocol):
    """What the dispatcher needs from the agent object."""

    async def on_message(self, message: AgentMessage) -> None: ...

    async def on_rejected(self, notice: AgentMessage) -> None: ...


@dataclass(frozen=True)
class Handlers:
    """The agent's side: the object handlers run on, its handlers by type, a fallback."""

    host: HandlerHost
    by_type: Mapping[str, HandlerSpec]
    has_fallback: bool
    """Whether `host.on_message` takes the types no handler is registered for."""


@dataclass(frozen=True)
class DispatchServices:
    """What the dispatcher works with: gateway keys, ledger, requests, transport, registry."""

    trust: GatewayTrust
    ledger: DeliveryLedger
    requests: PendingRequests
    transport: Transport
    registry: Registry


class Dispatcher:
    """Turns verified deliveries into handler calls, settled requests or dead letters."""

    def __init__(
        self,
        *,
        agent_id: str,
        owner: str,
        handlers: Handlers,
        services: DispatchServices,
        max_deliveries: int,
        ready: asyncio.Event,
    ) -> None:
        self._agent_id = agent_id
        self._owner = owner
        self._host = handlers.host
        self._handlers = handlers.by_type
        self._has_fallback = handlers.has_fallback
        self._trust = services.trust
        self._ledger = services.ledger
        self._requests = services.requests
        self._transport = services.transport
        self._registry = services.registry
        self._max = max_deliveries
        self._ready = ready
        self._sender_keys: dict[str, tuple[float, Ed25519PublicKey | None]] = {}
        self._key_lookups: dict[str, asyncio.Future[Ed25519PublicKey | None]] = {}
        self._active: dict[str, asyncio.Event] = {}
        self._leased: set[str] = set()

    async def verify(self, entry_id: str, fields: dict[str, bytes]) -> Delivery | None:
        """The verified delivery, or None after logging why it cannot be trusted."""
        delivery, _ = await self._check(entry_id, fields)
        return delivery

    async def _check(self, entry_id: str, fields: dict[str, bytes]) -> tuple[Delivery | None, str]:
        try:
            kid = fields.get("key_id", b"").decode("ascii", "replace")
            raw = verify_delivery(fields, await self._trust.keys_for(kid))
            delivery = parse_delivered(raw, fields, entry_id)
        except SignatureError as exc:
            reason = f"delivery failed verification: {exc}"
        else:
            target = delivery.envelope.target_id
            if target == self._agent_id:
                return delivery, ""
            reason = f"delivery addressed to {target!r}, not to this agent"
        logger.warning("agent %s refused stream entry %s: %s", self._agent_id, entry_id, reason)
        return None, reason

    async def process(self, batch: Batch) -> None:
        """Handle a read batch: every entry to its end (ack, dead letter) or left pending.

        The gateway's signature of each entry is checked and its envelope parsed once;
        then one round trip asks the ledger about every message of the batch, and the
        handlers run concurrently.
        """
        checked: list[tuple[Entry, Delivery]] = []
        for entry in batch.entries:
            delivery, reason = await self._check(entry.entry_id, entry.fields)
            if delivery is None:
                await self._guarded(batch, entry, self._ledger.dead_letter(
                    entry.entry_id, entry.fields, reason
                ))  # fmt: skip
            else:
                checked.append((entry, delivery))
        # Messages not already in progress here (and once per batch) begin together; a
        # duplicate of one in progress waits for it to end, then begins by itself.
        together: list[tuple[Entry, Delivery]] = []
        alone: list[tuple[Entry, Delivery]] = []
        for entry, delivery in checked:
            message_id = ledger_id(delivery.envelope)
            if message_id in self._active:
                alone.append((entry, delivery))
            else:
                self._active[message_id] = asyncio.Event()
                together.append((entry, delivery))
        try:
            begun = await self._ledger.begin_many(
                [ledger_id(d.envelope) for _, d in together], self._owner
            )
        except BaseException:
            for _, delivery in together:
                self._end(ledger_id(delivery.envelope))
            raise
        for (_, delivery), (_, leased) in zip(together, begun, strict=True):
            if leased:
                self._leased.add(ledger_id(delivery.envelope))
        works = [
            *(
                self._guarded(batch, entry, self._begun(entry, delivery, done, leased))
                for (entry, delivery), (done, leased) in zip(together, begun, strict=True)
            ),
            *(
                self._guarded(batch, entry, self._after_others(entry, delivery))
                for entry, delivery in alone
            ),
        ]
        if len(works) == 1:
            await works[0]  # a lone message needs no task of its own
        else:
            await asyncio.gather(*works)

    async def _guarded(self, batch: Batch, entry: Entry, work: Awaitable[None]) -> None:
        """Run one entry's work; a failure leaves that entry pending, not its batch."""
        try:
            await work
        except Exception:
            log_failure(
                logger,
                "agent %s: processing stream entry %s failed; it stays pending",
                self._agent_id,
                entry.entry_id,
            )
        finally:
            batch.finished(entry)

    def _end(self, message_id: str) -> None:
        finished = self._active.pop(message_id, None)
        if finished is not None:
            finished.set()

    async def _after_others(self, entry: Entry, delivery: Delivery) -> None:
        """A message already in progress here: wait for it to end, then begin this copy."""
        message_id = ledger_id(delivery.envelope)
        while (running := self._active.get(message_id)) is not None:
            await running.wait()
        self._active[message_id] = asyncio.Event()
        try:
            done, leased = await self._ledger.begin(message_id, self._owner)
        except BaseException:
            self._end(message_id)
            raise
        if leased:
            self._leased.add(message_id)
        await self._begun(entry, delivery, done, leased)

    async def refresh_leases(self) -> None:
        """Extend the handling leases of messages this instance is handling."""
        if self._leased:
            await self._ledger.refresh(list(self._leased))

    async def _begun(self, entry: Entry, delivery: Delivery, done: bool, leased: bool) -> None:
        """Go on with a message the ledger was asked about (it is marked active here)."""
        message_id = ledger_id(delivery.envelope)
        try:
            if done:
                await self._ledger.skip(entry.entry_id, message_id if leased else None)
                return
            if not leased:
                logger.debug(
                    "message %s is being handled by another instance", delivery.envelope.message_id
                )
                return
            try:
                await self._route(entry.entry_id, entry.fields, delivery, entry.deliveries)
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._ledger.release(message_id)
                raise
        finally:
            self._leased.discard(message_id)
            self._end(message_id)

    async def _route(
        self, entry_id: str, fields: dict[str, bytes], delivery: Delivery, deliveries: int
    ) -> None:
        env = delivery.envelope
        if deliveries > self._max:
            error = await self._ledger.last_error(entry_id)
            await self._ledger.dead_letter(
                entry_id,
                fields,
                f"delivered {deliveries} times without completing (max {self._max})",
                error=error,
                message_id=ledger_id(env),
            )
            return
        if await self._requests.settle(delivery, fields):
            await self._ledger.complete(entry_id, ledger_id(env))
            return
        if env.message_type.startswith(RESERVED_PREFIX) or env.sender_id == GATEWAY_SENDER:
            await self._reserved(entry_id, fields, delivery)
            return
        await self._ready.wait()
        await self._handle(entry_id, fields, delivery, deliveries)

    async def _reserved(self, entry_id: str, fields: dict[str, bytes], delivery: Delivery) -> None:
        env = delivery.envelope
        if env.message_type == PARKED_TYPE and env.sender_id == GATEWAY_SENDER:
            await self._parked(entry_id, env)
            return
        is_notice = env.message_type == REJECTION_TYPE and env.sender_id == GATEWAY_SENDER
        # A peer's error report counts only about a message this agent sent to that peer.
        solicited = (
            env.message_type == ERROR_TYPE
            and self._transport.sent_to(env.in_reply_to) == env.sender_id
        )
        if env.message_type == ERROR_TYPE and not solicited:
            await self._ledger.dead_letter(
                entry_id,
                fields,
                f"error report from {env.sender_id} about no message sent to it",
                message_id=ledger_id(env),
            )
            return
        if not (is_notice or solicited):
            await self._ledger.dead_letter(
                entry_id,
                fields,
                f"reserved message type {env.message_type!r} from {env.sender_id}",
                message_id=ledger_id(env),
            )
            return
        if is_notice and self._transport.retry_rate_limited(env.data):
            await self._ledger.complete(entry_id, ledger_id(env))  # 429: resubmitted later
            return
        notice = await self.make_message(delivery)
        try:
            await self._host.on_rejected(notice)
        except Exception:
            logger.exception("on_rejected hook of agent %s failed", self._agent_id)
        await self._ledger.complete(entry_id, ledger_id(env))

    async def _parked(self, entry_id: str, env: Envelope) -> None:
        """A "parked" notice: logged, never a failure (the message is delivered later)."""
        data = env.data
        logger.info(
            "agent %s: message %s to %s is parked until the target can take it (%s)",
            self._agent_id,
            data.get("message_id"),
            data.get("target"),
            data.get("reason"),
        )
        await self._ledger.complete(entry_id, ledger_id(env))

    async def _handle(
        self, entry_id: str, fields: dict[str, bytes], delivery: Delivery, deliveries: int
    ) -> None:
        env = delivery.envelope
        spec = self._handlers.get(env.message_type)
        if spec is None and not self._has_fallback:
            logger.warning(
                "agent %s has no handler for message type %r; dead-lettered message %s",
                self._agent_id,
                env.message_type,
                env.message_id,
            )
            meters.messages_failed.add(
                1,
                {
                    "mas.target": self._agent_id,
                    "mas.message_type": env.message_type,
                    "mas.outcome": "no_handler",
                },
            )
            await self._ledger.dead_letter(
                entry_id,
                fields,
                f"no handler for message type {env.message_type!r}",
                message_id=ledger_id(env),
            )
            return
        message = await self.make_message(delivery)
        labels = {"mas.target": self._agent_id, "mas.message_type": env.message_type}
        with consumer_span(env, keys.AGENTS_GROUP, delivery.gateway.trace) as span:
            started = time.perf_counter()
            try:
                if spec is None:
                    await self._host.on_message(message)
                else:
                    payload: BaseModel | None = None
                    if spec.model is not None:
                        try:
                            payload = spec.model.model_validate(env.data)
                        except ValidationError as exc:
                            span.set_attribute("mas.outcome", "invalid_payload")
                            meters.messages_failed.add(
                                1, {**labels, "mas.outcome": "invalid_payload"}
                            )
                            await self._invalid(entry_id, fields, delivery, spec, exc)
                            return
                    handler: Callable[..., Awaitable[Any]] = getattr(self._host, spec.attr)
                    await handler(message, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                span.record_exception(exc)
                span.set_attribute("mas.outcome", "handler_error")
                failed = {**labels, "mas.outcome": "handler_error"}
                meters.handler_duration.record(time.perf_counter() - started, failed)
                meters.messages_failed.add(1, failed)
                await self._failed(entry_id, fields, ledger_id(env), deliveries, exc)
                return
            handled = {**labels, "mas.outcome": "ok"}
            meters.handler_duration.record(time.perf_counter() - started, handled)
            meters.messages_handled.add(1, labels)
        await self._ledger.complete(entry_id, ledger_id(env))

    async def _failed(
        self,
        entry_id: str,
        fields: dict[str, bytes],
        message_id: str,
        deliveries: int,
        exc: Exception,
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if deliveries >= self._max:
            logger.error(
                "handler of agent %s failed on message %s for the %d. time; dead-lettered",
                self._agent_id,
                message_id,
                deliveries,
                exc_info=exc,
            )
            await self._ledger.dead_letter(
                entry_id,
                fields,
                f"handler failed {deliveries} times (max {self._max})",
                error=error,
            )
            return
        logger.warning(
            "handler of agent %s failed on message %s (delivery %d of %d); will retry",
            self._agent_id,
            message_id,
            deliveries,
            self._max,
            exc_info=exc,
        )
        await self._ledger.record_failure(entry_id, message_id, error)

    async def _invalid(
        self,
        entry_id: str,
        fields: dict[str, bytes],
        delivery: Delivery,
        spec: HandlerSpec,
        exc: ValidationError,
    ) -> None:
        env = delivery.envelope
        assert spec.model is not None
        summary = f"payload does not match {spec.model.__name__}: {validation_summary(exc)}"
        logger.warning(
            "agent %s dead-lettered message %s from %s: %s",
            self._agent_id,
            env.message_id,
            env.sender_id,
            summary,
        )
        await self._ledger.dead_letter(
            entry_id, fields, "invalid payload", error=summary, message_id=ledger_id(env)
        )
        try:
            await self._transport.submit(
                env.sender_id,
                ERROR_TYPE,
                {
                    "code": 422,
                    "reason": summary,
                    "message_id": env.message_id,
                    "correlation_id": env.correlation_id,
                },
                correlation_id=env.correlation_id,
                in_reply_to=env.message_id,
            )
        except Exception:
            logger.exception("could not report the invalid payload back to %s", env.sender_id)

    async def make_message(self, delivery: Delivery) -> AgentMessage:
        """The handler-facing message of a verified delivery."""
        return AgentMessage.from_delivery(
            delivery, sender_check=await self._sender_check(delivery), replier=self.reply
        )

    async def reply(
        self, message: AgentMessage, message_type: str, data: Mapping[str, Any] | BaseModel
    ) -> str:
        """Send a reply correlated with `message`."""
        check_message_type(message_type)
        envelope = await self._transport.submit(
            message.sender_id,
            message_type,
            data,
            correlation_id=message.correlation_id or message.message_id,
            in_reply_to=message.message_id,
        )
        return envelope.message_id

    async def _sender_check(self, delivery: Delivery) -> SenderCheck:
        """The check of the sender's own signature, run when a handler asks for it.

        Only the sender's public key is looked up now (cached per sender); the
        signature check and the strict parse of the sender's bytes wait until
        `AgentMessage.sender_verified` is read.
        """
        sender_envelope, signature = delivery.sender_envelope, delivery.sender_signature
        if sender_envelope is None or signature is None or delivery.gateway.modified:
            return SenderCheck()
        public_key = await self._sender_key(delivery.envelope.sender_id)
        if public_key is None:
            return SenderCheck()

        def check() -> bool:
            try:
                crypto.verify(public_key, sender_envelope, signature)
                signed = parse_envelope(sender_envelope)
            except (SignatureError, MessageRejected):
                return False
            return signed == delivery.envelope

        return SenderCheck(check)

    async def _sender_key(self, sender_id: str) -> Ed25519PublicKey | None:
        """The sender's registered public key, loaded once per `_SENDER_KEY_TTL`.

        Concurrent deliveries from one sender share one lookup.
        """
        cached = self._sender_keys.get(sender_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        lookup = self._key_lookups.get(sender_id)
        if lookup is None:
            lookup = asyncio.ensure_future(self._load_sender_key(sender_id))
            self._key_lookups[sender_id] = lookup
            lookup.add_done_callback(lambda _: self._key_lookups.pop(sender_id, None))
        return await asyncio.shield(lookup)

    async def _load_sender_key(self, sender_id: str) -> Ed25519PublicKey | None:
        identity = await self._registry.identity(sender_id)
        key: Ed25519PublicKey | None = None
        if identity is not None:
            try:
                key = crypto.load_public_key(identity.public_key)
            except SignatureError:
                key = None  # a malformed registered key verifies nothing
        self._sender_keys[sender_id] = (time.monotonic() + _SENDER_KEY_TTL, key)
        return key
