"""Sign and deliver: turn a decided context into stream entries and commit them atomically.

For every outbox entry, one script call acknowledges and deletes the entry and
appends, in the same atomic step: the signed delivery (or the signed rejection
notice to the sender), the audit entry, and a dead letter when the gateway itself
failed on the message (metadata only: the payload was not scanned). A forwarded
message also sets its sender's message-id marker (see `stages.dedup`). If another
gateway has taken the entry over meanwhile, or forwarded a copy of the message,
nothing is written.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from mas import keys
from mas.envelope import (
    AGENT_ID_PATTERN,
    GATEWAY_SENDER,
    REJECTION_TYPE,
    Envelope,
    GatewayStamp,
    sign_delivery,
)
from mas.errors import MessageRejected, RateLimited

from .context import MessageContext
from .logsafe import log_failure
from .lua import load_script
from .signing import GatewayKey
from .stages.dedup import forwarded_marker
from .tracing import (
    end_commit_span,
    end_send_span,
    inject_trace,
    start_commit_span,
    start_send_span,
)
from .verdicts import DeadLettered, Parked

__all__ = ["Committer", "Outcome"]

log = logging.getLogger(__name__)

AuditBuilder = Callable[[MessageContext], bytes]
_AGENT_ID = re.compile(AGENT_ID_PATTERN)


@dataclass(frozen=True)
class Outcome:
    """What was committed for one entry."""

    entry_id: str
    decision: str
    committed: bool


def _flatten(fields: dict[str, bytes]) -> list[bytes | str | int]:
    out: list[bytes | str | int] = [len(fields)]
    for name, value in fields.items():
        out.extend((name, value))
    return out


class Committer:
    """Builds signed deliveries / notices and commits them with the outbox acknowledgement."""

    def __init__(
        self,
        client: aioredis.Redis,
        key: GatewayKey,
        *,
        gateway_id: str,
        consumer: str,
        audit: AuditBuilder | None = None,
        dedup_window_s: float = 600.0,
    ) -> None:
        self._client = client
        self._dedup_ms = max(1, int(dedup_window_s * 1000))
        self._key = key
        self._gateway_id = gateway_id
        self._consumer = consumer
        self._audit = audit
        self._script = client.register_script(load_script("commit"))

    def _stamp(self, *, kind: str, ctx: MessageContext) -> GatewayStamp:
        return GatewayStamp(
            gateway_id=self._gateway_id,
            key_id=self._key.key_id,
            delivered_at=time.time(),
            kind=kind,  # type: ignore[arg-type]
            modified=ctx.modified,
            redacted_paths=list(ctx.redacted_paths),
            trace=inject_trace(ctx),
        )

    def delivery_fields(self, ctx: MessageContext) -> dict[str, bytes]:
        """Signed delivery of an accepted message (data as possibly redacted)."""
        assert ctx.envelope is not None
        envelope = ctx.envelope.model_dump(mode="json")
        envelope["data"] = ctx.data
        stamp = self._stamp(kind="message", ctx=ctx)
        if ctx.modified:
            return sign_delivery(envelope, stamp, self._key.private_key)
        return sign_delivery(
            envelope,
            stamp,
            self._key.private_key,
            sender_envelope=ctx.raw_envelope,
            sender_signature=ctx.fields["signature"],
        )

    def notice_fields(self, ctx: MessageContext, rejection: MessageRejected) -> dict[str, bytes]:
        """Signed rejection notice addressed to the sender."""
        correlation_id = ctx.recordable("correlation_id")
        data: dict[str, object] = {
            "code": rejection.code,
            "reason": ctx.scrub(rejection.reason),
            "message_id": ctx.message_id,
            "correlation_id": correlation_id,
        }
        if isinstance(rejection, RateLimited):
            data["retry_after"] = rejection.retry_after
        notice = Envelope(
            sender_id=GATEWAY_SENDER,
            target_id=ctx.origin or ctx.sender_id,
            message_type=REJECTION_TYPE,
            data=data,
            correlation_id=correlation_id,
            in_reply_to=ctx.message_id,
        )
        stamp = GatewayStamp(
            gateway_id=self._gateway_id,
            key_id=self._key.key_id,
            delivered_at=time.time(),
            kind="rejection",
        )
        return sign_delivery(notice.model_dump(mode="json"), stamp, self._key.private_key)

    def dead_letter_fields(self, ctx: MessageContext, reason: str) -> dict[str, bytes]:
        """Metadata of an entry the gateway failed on: never its payload, token or signature.

        The envelope is unscanned (the gateway failed before or while scanning it), so
        the dead letter names it by digest and size; the sender resubmits it.
        """
        envelope = ctx.fields.get("envelope", b"")
        fields = {
            "dlq_reason": reason.encode(),
            "dlq_source": f"gateway:{self._gateway_id}".encode(),
            "dlq_stream": ctx.outbox.encode(),
            "dlq_entry_id": ctx.entry_id.encode(),
            "dlq_envelope_sha256": hashlib.sha256(envelope).hexdigest().encode(),
            "dlq_envelope_bytes": str(len(envelope)).encode(),
        }
        if _AGENT_ID.fullmatch(ctx.sender_id):
            fields["dlq_sender"] = ctx.sender_id.encode()
        if ctx.message_id is not None:
            fields["dlq_message_id"] = ctx.message_id.encode()
        return fields

    def plan(self, ctx: MessageContext, *, tell: bool) -> tuple[list[str], list[bytes | str | int]]:
        """Keys after the outbox and arguments after the claim, for one decided context.

        That is: the message-id marker and its TTL (0 and no key when nothing is
        forwarded), then the streams to append to and their fields.
        `tell`: a refused sender gets a notice (its outbox proves it wrote the entry).
        """
        streams: list[str] = []
        args: list[bytes | str | int] = [0]
        verdict = ctx.verdict
        rejection = ctx.rejection
        if verdict is None or isinstance(verdict, Parked):
            assert ctx.envelope is not None
            streams.append(forwarded_marker(ctx))
            args[0] = self._dedup_ms
            target = ctx.envelope.target_id
            inbox = keys.agent_parked(target) if verdict is not None else keys.agent_stream(target)
            streams.append(inbox)
            start_send_span(ctx, inbox)
            args += _flatten(self.delivery_fields(ctx))
        elif rejection is not None and tell:
            # The outbox's owner wrote the entry, whatever sender it claims: tell the owner.
            streams.append(keys.agent_stream(ctx.origin or ctx.sender_id))
            args += _flatten(self.notice_fields(ctx, rejection))
        if self._audit is not None:
            streams.append(keys.AUDIT_MESSAGES)
            args += _flatten({"entry": self._audit(ctx)})
        if isinstance(verdict, DeadLettered):
            streams.append(keys.DLQ)
            args += _flatten(self.dead_letter_fields(ctx, verdict.reason))
        return streams, args

    def _safe_plan(
        self, ctx: MessageContext, *, tell: bool
    ) -> tuple[list[str], list[bytes | str | int]]:
        """`plan`, failing closed: a context that cannot be planned is dead-lettered (500)."""
        try:
            return self.plan(ctx, tell=tell)
        except Exception:
            end_send_span(ctx, failed=True)
            log_failure(
                log, "could not build the outcome of entry %s; dead-lettering it", ctx.entry_id
            )
            reason = "internal gateway error while committing; the message was dead-lettered"
            accepted = ctx.verdict is None
            ctx.dead_letter(stage="commit", reason=reason)
            ctx.decision = "dead_lettered"
            ctx.modified = False
            # An accepted message's sender is authenticated: tell it.
            return self.plan(ctx, tell=tell or accepted)

    async def commit(
        self,
        batch: Sequence[MessageContext],
        *,
        tell: Collection[str] = (),
        withdrawn: Collection[tuple[str, str]] = (),
    ) -> list[Outcome]:
        """Commit every context of a batch, pipelined; each commit is atomic on its own.

        `tell`: the outbox owners a refusal is told to (those the operator provisioned).
        `withdrawn`: (origin, entry id) of entries their sender deleted after they were
        read; they are committed and audited all the same.
        """
        async with self._client.pipeline(transaction=False) as pipe:
            for ctx in batch:
                start_commit_span(ctx)
                streams, args = self._safe_plan(ctx, tell=ctx.origin in tell)
                await self._script(
                    keys=[ctx.outbox, *streams],
                    args=[
                        keys.GATEWAY_GROUP,
                        ctx.entry_id,
                        self._consumer,
                        "1" if (ctx.origin, ctx.entry_id) in withdrawn else "0",
                        *args,
                    ],
                    client=pipe,
                )
            results = await pipe.execute()
        outcomes = []
        for ctx, result in zip(batch, results, strict=True):
            committed = result == 1
            end_commit_span(ctx, committed=committed)
            if result == 2:
                log.warning(
                    "entry %s repeats a message id forwarded meanwhile by another gateway; "
                    "acknowledged, not forwarded again",
                    ctx.entry_id,
                )
            elif not committed:
                log.warning(
                    "entry %s was taken over by another gateway; not committed here", ctx.entry_id
                )
            outcomes.append(Outcome(ctx.entry_id, ctx.decision or "unknown", committed))
        return outcomes
