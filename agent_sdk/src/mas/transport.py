"""Transport: builds, signs and submits envelopes to the agent's outbox, read by the gateway.

A submission that fails with a transient Redis error is retried with capped
backoff for up to `AgentOptions.submit_retry_s`, each time signed anew (fresh
nonce and timestamp, same message id: the gateway delivers one message id once).
A 429 notice for a recent message schedules its resubmission after `retry_after`
and paces the submissions that follow (`mas.pacing`). Submissions made while
another is on its way to Redis go together in the next pipeline (`mas.coalesce`),
so concurrent `send()` calls share round trips and a connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError

from . import keys, meters
from .backoff import Backoff
from .coalesce import Coalescer
from .credentials import Credentials
from .envelope import ID_PATTERN, Envelope, encode_envelope, new_nonce, sign_submission
from .errors import Unauthenticated
from .options import AgentOptions
from .outage import Outage, describe, is_transient
from .pacing import Pacer, SentMessages
from .redis_connect import cluster_twin, is_cluster
from .replication import write_and_wait
from .telemetry import current_trace_context, producer_span

__all__ = ["PendingMark", "Transport", "check_message_id", "payload_dict", "without_retries"]

logger = logging.getLogger(__name__)

_REMEMBERED = 10_000
"""Sent message ids kept to recognise a peer's error report about one of them."""

_MESSAGE_ID = re.compile(ID_PATTERN)

PendingMark = tuple[str, str, int]
"""(key, value, ttl in ms) written in the same transaction as the submission."""

Lost = Callable[[str, Exception], None]
"""Told (message id, error) when a scheduled resubmission could not be made."""


def payload_dict(
    data: Mapping[str, Any] | BaseModel | None, *, check_json: bool = True
) -> dict[str, Any]:
    """Message data as a JSON-compatible dict; `TypeError` names what cannot be sent.

    With `check_json` off only the shape is checked; the caller encodes the data itself.
    """
    if data is None:
        return {}
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if not isinstance(data, Mapping):
        raise TypeError(f"message data must be a dict or a pydantic model, not {type(data)!r}")
    out = dict(data)
    if not check_json:
        return out
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise _not_json(exc) from exc
    return out


def _not_json(exc: Exception) -> TypeError:
    return TypeError(f"message data is not JSON-serializable: {exc}")


def _encoded(envelope: Envelope) -> bytes:
    """The envelope's JSON bytes; `TypeError` when its data holds a non-JSON value.

    The data was checked only for its shape (`payload_dict(check_json=False)`): this is
    the one encoding. Values JSON cannot carry (sets, bytes, datetimes) fail here as
    they failed the separate check; a pydantic model or dataclass nested in the data
    is now sent as its fields, as pydantic dumps it, where the check refused it.
    """
    try:
        return encode_envelope(envelope)
    except (TypeError, ValueError) as exc:
        raise _not_json(exc) from exc


def check_message_id(message_id: object) -> str:
    """A caller-chosen message id, checked with the envelope's rule; `ValueError` says why not."""
    if not isinstance(message_id, str):
        raise TypeError(f"message_id must be a string, not {type(message_id).__name__}")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(
            "message_id must be 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-' "
            f"(got {len(message_id)} characters)"
        )
    return message_id


def without_retries(client: aioredis.Redis) -> aioredis.Redis:
    """A client on the same server and user whose commands are never resent by redis-py.

    redis-py retries a command after a timeout by sending the same bytes again; for a
    submission that would repeat its nonce (refused as a replay). The transport retries
    itself, signing anew. On a cluster the twin client has no retries either (the cluster
    client resends after a timeout too).
    """
    if is_cluster(client):
        return cluster_twin(client, retry=Retry(NoBackoff(), 0))
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    return aioredis.Redis.from_pool(
        aioredis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )


def _restamped(envelope: Envelope) -> Envelope:
    """The same message with a fresh nonce and timestamp, to be signed again."""
    return envelope.model_copy(update={"nonce": new_nonce(), "timestamp": time.time()})


class Transport:
    """Submits signed envelopes on behalf of one agent, retrying and pacing as needed."""

    def __init__(
        self, redis: aioredis.Redis, credentials: Credentials, options: AgentOptions
    ) -> None:
        self._redis = redis
        self._credentials = credentials
        self._outbox = keys.agent_outbox(credentials.agent_id)
        self._retry_s = options.submit_retry_s
        self._replicas = options.submit_replicas
        self._replica_timeout_ms = options.replica_timeout_ms
        self._wait_bound = options.rate_limit_wait
        self._sent: OrderedDict[str, str] = OrderedDict()
        """Recently sent message id -> target: which error reports a peer may send back."""
        self._kept = SentMessages(
            max_messages=options.resend_max_messages, max_bytes=options.resend_max_bytes
        )
        self._pacer = Pacer()
        self._resends: asyncio.Queue[str] = asyncio.Queue()
        self._outage = Outage(f"agent {credentials.agent_id}: submitting", logger)
        self._task: asyncio.Task[None] | None = None
        self._appends: Coalescer[dict[str, bytes], None] = Coalescer(
            self._append_all, name=f"mas-submit-{credentials.agent_id}"
        )
        self.on_lost: Lost | None = None
        """Told about a message whose resubmission after a 429 failed."""

    def sent_to(self, message_id: str | None) -> str | None:
        """The target of a message this agent sent recently, if `message_id` names one."""
        return self._sent.get(message_id) if message_id else None

    @property
    def pacing(self) -> bool:
        """True while submissions are spaced because the gateway answered 429."""
        return self._pacer.pacing

    async def submit(
        self,
        target_id: str,
        message_type: str,
        data: Mapping[str, Any] | BaseModel | None,
        *,
        correlation_id: str | None = None,
        in_reply_to: str | None = None,
        expects_reply: bool = False,
        pending: PendingMark | None = None,
        message_id: str | None = None,
    ) -> Envelope:
        """Sign and append one submission to the agent's outbox; return the envelope sent.

        Raises:
            Unauthenticated: Redis refuses the agent's credentials (revoked or rotated).
            RedisError: Redis stayed unavailable for `submit_retry_s` seconds.
        """
        payload = payload_dict(data, check_json=False)
        sender = self._credentials.agent_id
        with producer_span(sender, target_id, message_type) as span:
            extra: dict[str, Any] = {}
            if message_id is not None:
                extra["message_id"] = check_message_id(message_id)
            try:
                envelope = Envelope(
                    sender_id=sender,
                    target_id=target_id,
                    message_type=message_type,
                    data=payload,
                    correlation_id=correlation_id,
                    in_reply_to=in_reply_to,
                    expects_reply=expects_reply,
                    trace=current_trace_context(),
                    **extra,
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
                )
                raise ValueError(f"cannot send message: {problems}") from exc
            encoded = _encoded(envelope)
            span.set_attribute("messaging.message.id", envelope.message_id)
            self._remember(envelope)
            await self._pacer.turn(self._wait_bound)
            sent = await self._deliver(envelope, pending, keep=True, encoded=encoded)
            meters.messages_sent.add(1, {"mas.sender": sender, "mas.message_type": message_type})
            return sent

    async def _deliver(
        self,
        envelope: Envelope,
        pending: PendingMark | None,
        *,
        keep: bool = False,
        encoded: bytes | None = None,
    ) -> Envelope:
        """Append `envelope`, signed; through transient errors, signed anew each time.

        `encoded`: the envelope's bytes, when the caller encoded it already.
        """
        deadline = time.monotonic() + self._retry_s
        backoff = Backoff()
        while True:
            fields = sign_submission(
                envelope, self._credentials.private_key, self._credentials.token, encoded=encoded
            )
            encoded = None  # a retry is restamped, so encoded anew
            if keep:
                self._kept.keep(envelope, len(fields["envelope"]))
                keep = False
            try:
                await self._append(fields, pending)
            except AuthenticationError as exc:
                raise self._refused(envelope) from exc
            except (RedisError, OSError) as exc:
                # The server may have closed the connection because the user was revoked.
                if isinstance(exc, RedisConnectionError) and await self._revoked():
                    raise self._refused(envelope) from exc
                if not is_transient(exc) or time.monotonic() + backoff.delay > deadline:
                    raise
                self._outage.note(exc)
                await backoff.wait()
                envelope = _restamped(envelope)
                continue
            self._outage.recovered()
            return envelope

    async def _revoked(self) -> bool:
        try:
            await self._redis.ping()  # type: ignore[misc]
        except AuthenticationError:
            return True
        except (RedisError, OSError):
            return False
        return False

    def _remember(self, envelope: Envelope) -> None:
        self._sent[envelope.message_id] = envelope.target_id
        self._sent.move_to_end(envelope.message_id)
        while len(self._sent) > _REMEMBERED:
            self._sent.popitem(last=False)

    def forget(self, message_id: str) -> None:
        """Do not resubmit `message_id` any more (its sender stopped waiting for it)."""
        self._kept.forget(message_id)

    def _refused(self, envelope: Envelope) -> Unauthenticated:
        return Unauthenticated(
            f"Redis refuses the credentials of agent {envelope.sender_id!r}: revoked or rotated",
            message_id=envelope.message_id,
        )

    async def _append(self, fields: dict[str, bytes], pending: PendingMark | None) -> None:
        if self._replicas > 0:
            await self._append_replicated(fields, pending)
            return
        if pending is None:
            await self._appends.submit(fields)
            return
        key, value, ttl_ms = pending
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, value, px=ttl_ms)
        pipe.xadd(self._outbox, fields)  # type: ignore[arg-type]
        await pipe.execute()

    async def _append_replicated(
        self, fields: dict[str, bytes], pending: PendingMark | None
    ) -> None:
        """Append, then wait for `submit_replicas` replicas (`ReplicasBehind` if they lag).

        The ``WAIT`` shares the round trip and the connection of the last write, so it
        covers the submission: the outbox entry itself, or, with a pending mark, a
        refresh of the mark written after the transaction that appended the entry.
        """
        if pending is None:
            await write_and_wait(
                self._redis,
                lambda pipe: pipe.xadd(self._outbox, fields),  # type: ignore[arg-type]
                replicas=self._replicas,
                timeout_ms=self._replica_timeout_ms,
            )
            return
        key, value, ttl_ms = pending
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(key, value, px=ttl_ms)
        pipe.xadd(self._outbox, fields)  # type: ignore[arg-type]
        await pipe.execute()
        await write_and_wait(
            self._redis,
            lambda pipe: pipe.pexpire(key, ttl_ms),
            replicas=self._replicas,
            timeout_ms=self._replica_timeout_ms,
        )

    async def _append_all(self, batch: list[dict[str, bytes]]) -> list[BaseException | None]:
        """Append submissions to the outbox in one pipeline; each one's error, if any."""
        if len(batch) == 1:
            await self._redis.xadd(self._outbox, batch[0])  # type: ignore[arg-type]
            return [None]
        pipe = self._redis.pipeline(transaction=False)
        for fields in batch:
            pipe.xadd(self._outbox, fields)  # type: ignore[arg-type]
        replies = await pipe.execute(raise_on_error=False)
        return [r if isinstance(r, BaseException) else None for r in replies]

    # --- 429: resubmit and pace ---------------------------------------------------

    def retry_rate_limited(self, notice: Mapping[str, Any]) -> bool:
        """Schedule the resubmission a 429 notice asks for; False when the refusal is final.

        Final: another code, pacing disabled (`rate_limit_wait` 0), the message is no
        longer kept, or it would have waited more than `rate_limit_wait` in total.
        """
        message_id = notice.get("message_id")
        if notice.get("code") != 429 or self._wait_bound <= 0 or not isinstance(message_id, str):
            return False
        kept = self._kept.get(message_id)
        if kept is None:
            return False
        if kept.queued:
            return True  # a copy of a retried submission was refused as well
        raw = notice.get("retry_after")
        retry_after = 0.1
        if isinstance(raw, int | float) and not isinstance(raw, bool) and raw == raw:
            retry_after = min(max(float(raw), 0.0), self._wait_bound)
        now = time.monotonic()
        if kept.limited_since is None:
            kept.limited_since = now
        if not self._pacer.pacing:
            logger.info(
                "agent %s: the gateway's rate limit is reached; pacing submissions",
                self._credentials.agent_id,
            )
        self._pacer.limited(retry_after)
        if self._pacer.due(self._resends.qsize()) - kept.limited_since > self._wait_bound:
            self._kept.forget(message_id)
            return False
        kept.queued = True
        self._resends.put_nowait(message_id)
        return True

    def start(self) -> asyncio.Task[None]:
        """Start the task that resubmits messages refused with 429; return it."""
        self._task = asyncio.create_task(
            self._resend_forever(), name=f"mas-resend-{self._credentials.agent_id}"
        )
        return self._task

    async def stop(self) -> None:
        """Stop resubmitting (messages still waiting for their turn are not sent)."""
        waiting = self._kept.queued
        if waiting:
            logger.warning(
                "agent %s stops with %d message(s) refused with 429 not yet resubmitted",
                self._credentials.agent_id,
                waiting,
            )
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _resend_forever(self) -> None:
        """Resubmit messages refused with 429, each in its turn."""
        while True:
            message_id = await self._resends.get()
            kept = self._kept.get(message_id)
            if kept is None or not kept.queued:
                continue  # forgotten meanwhile
            await self._pacer.turn(self._wait_bound)
            kept.queued = False
            try:
                await self._deliver(_restamped(kept.envelope), None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._kept.forget(message_id)
                logger.error(
                    "agent %s could not resubmit message %s after a 429: %s",
                    self._credentials.agent_id,
                    message_id,
                    describe(exc),
                )
                if self.on_lost is not None:
                    self.on_lost(message_id, exc)
