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
import json
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
    PARKED_TYPE,
    REJECTION_TYPE,
    Envelope,
    GatewayStamp,
    sign_delivery,
)
from mas.errors import MessageRejected, RateLimited

from .audit.entry import canonical_json
from .context import MessageContext
from .logsafe import log_failure
from .lua import load_script
from .lua.pipelined import PipelinedScript, ScriptCall
from .signing import GatewayKey
from .tracing import (
    end_commit_span,
    end_send_span,
    inject_trace,
    start_commit_span,
    start_send_span,
)
from .verdicts import DeadLettered, Parked

__all__ = ["DIVERTED", "PARKED_META_FIELD", "Committer", "Outcome"]

log = logging.getLogger(__name__)

AuditBuilder = Callable[[MessageContext], bytes]
PARKED_META_FIELD = "parked"
"""Field of a parked entry with what its release is audited with (never a payload value)."""
COMMITTED = 1
"""The commit script's answer when it wrote the plan."""
DIVERTED = 2
"""...when it parked the message behind messages parked before it."""
DUPLICATE = 3
"""...when the message id was forwarded meanwhile (only the acknowledgement is written)."""

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


def _queued_reason(target: str) -> str:
    return f"messages to {target} are parked; this one waits behind them"


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
        self._dedup_ms = max(1, int(dedup_window_s * 1000))
        self._key = key
        self._gateway_id = gateway_id
        self._consumer = consumer
        self._audit = audit
        self._script = PipelinedScript(client, load_script("commit"))
        self._now = time.time()
        """When the batch being committed is stamped (one clock read per batch)."""

    def _stamp(self, *, kind: str, ctx: MessageContext) -> GatewayStamp:
        return GatewayStamp(
            gateway_id=self._gateway_id,
            key_id=self._key.key_id,
            delivered_at=self._now,
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
        data: dict[str, object] = {"code": rejection.code, "reason": ctx.scrub(rejection.reason)}
        if isinstance(rejection, RateLimited):
            data["retry_after"] = rejection.retry_after
        return self._notice(ctx, REJECTION_TYPE, "rejection", data)

    def parked_notice_fields(self, ctx: MessageContext, reason: str) -> dict[str, bytes]:
        """Signed "parked" notice to the sender: ids, target and reason, never payload values."""
        target = ctx.recordable("target_id")  # None when DLP withheld it
        return self._notice(
            ctx, PARKED_TYPE, "notice", {"target": target, "reason": ctx.scrub(reason)}
        )

    def _notice(
        self, ctx: MessageContext, message_type: str, kind: str, data: dict[str, object]
    ) -> dict[str, bytes]:
        """A gateway-signed notice to the sender about one of its messages."""
        correlation_id = ctx.recordable("correlation_id")
        notice = Envelope(
            sender_id=GATEWAY_SENDER,
            target_id=ctx.origin or ctx.sender_id,
            message_type=message_type,
            data={**data, "message_id": ctx.message_id, "correlation_id": correlation_id},
            correlation_id=correlation_id,
            in_reply_to=ctx.message_id,
        )
        stamp = GatewayStamp(
            gateway_id=self._gateway_id,
            key_id=self._key.key_id,
            delivered_at=self._now,
            kind=kind,  # type: ignore[arg-type]
        )
        return sign_delivery(notice.model_dump(mode="json"), stamp, self._key.private_key)

    def parked_meta(self, ctx: MessageContext) -> dict[str, bytes]:
        """What the release of a parked delivery is audited with: digests and ids."""
        meta = {
            "ingress_id": ctx.entry_id,
            "policy_version": ctx.policy_version,
            "parked_at": round(self._now, 6),
            "envelope_sha256": hashlib.sha256(ctx.raw_envelope).hexdigest(),
            "payload_sha256": hashlib.sha256(canonical_json(ctx.envelope.data)).hexdigest()
            if ctx.envelope is not None
            else None,
        }
        return {PARKED_META_FIELD: json.dumps(meta, sort_keys=True).encode()}

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

    def plan(
        self, ctx: MessageContext, *, tell: bool, signed: dict[str, bytes] | None = None
    ) -> tuple[list[str], list[bytes | str | int]]:
        """Streams to append to and their fields, for one decided context.

        `tell`: a refused sender gets a notice (its outbox proves it wrote the entry).
        `signed`: the delivery already signed, when this is the parked alternative of a
        plan (same envelope and stamp, so the same bytes: not signed a second time).
        """
        streams: list[str] = []
        args: list[bytes | str | int] = []
        verdict = ctx.verdict
        rejection = ctx.rejection
        delivery: dict[str, bytes] | None = None
        if verdict is None or isinstance(verdict, Parked):
            assert ctx.envelope is not None
            target = ctx.envelope.target_id
            destination = (
                keys.agent_parked(target) if verdict is not None else keys.agent_stream(target)
            )
            delivery = signed
            if delivery is None:  # not the alternative: the delivery carries this span
                start_send_span(ctx, destination)
                delivery = self.delivery_fields(ctx)
            if isinstance(verdict, Parked):
                sender_inbox = keys.agent_stream(ctx.origin or ctx.sender_id)
                streams += [destination, sender_inbox]
                args += _flatten({**delivery, **self.parked_meta(ctx)})
                args += _flatten(self.parked_notice_fields(ctx, verdict.reason))
            else:
                streams.append(destination)
                args += _flatten(delivery)
        elif rejection is not None and tell:
            # The outbox's owner wrote the entry, whatever sender it claims: tell the owner.
            streams.append(keys.agent_stream(ctx.origin or ctx.sender_id))
            args += _flatten(self.notice_fields(ctx, rejection))
        if self._audit is not None:
            streams.append(keys.audit_log(keys.audit_shard(ctx.origin or ctx.sender_id)))
            args += _flatten({"entry": self._audit(ctx)})
        if isinstance(verdict, DeadLettered):
            streams.append(keys.DLQ)
            args += _flatten(self.dead_letter_fields(ctx, verdict.reason))
        if verdict is None and ctx.park_if_queued:
            assert delivery is not None, "an accepted message has its delivery"
            alternative, more = self._parked_plan(ctx, delivery)
            streams += alternative
            args += ["divert", *more]
        return streams, args

    def _parked_plan(
        self, ctx: MessageContext, delivery: dict[str, bytes]
    ) -> tuple[list[str], list[bytes | str | int]]:
        """The plan of `ctx` had it been parked (with the `delivery` already signed for it):
        the commit uses it if the queue is not empty."""
        assert ctx.envelope is not None
        decision = ctx.decision
        ctx.verdict = Parked(_queued_reason(ctx.envelope.target_id), "commit")
        ctx.decision = "parked"
        try:
            return self.plan(ctx, tell=True, signed=delivery)
        finally:
            ctx.verdict = None
            ctx.decision = decision

    def _marker(self, ctx: MessageContext) -> tuple[list[str], int]:
        """The message-id marker key and TTL of a message this commit forwards, else none."""
        if ctx.envelope is not None and (ctx.verdict is None or isinstance(ctx.verdict, Parked)):
            return [ctx.forwarded_marker()], self._dedup_ms
        return [], 0

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
        """Commit every context of a batch in one round trip; each commit is atomic on its own.

        `tell`: the outbox owners a refusal is told to (those the operator provisioned).
        `withdrawn`: (origin, entry id) of entries their sender deleted after they were
        read; they are committed and audited all the same.
        """
        self._now = time.time()
        calls: list[ScriptCall] = []
        for ctx in batch:
            start_commit_span(ctx)
            streams, args = self._safe_plan(ctx, tell=ctx.origin in tell)
            marker, ttl_ms = self._marker(ctx)
            calls.append(
                (
                    [ctx.outbox, *marker, *streams],
                    [
                        keys.GATEWAY_GROUP,
                        ctx.entry_id,
                        self._consumer,
                        "1" if (ctx.origin, ctx.entry_id) in withdrawn else "0",
                        ttl_ms,
                        *args,
                    ],
                )
            )
        results = await self._script.run(calls)
        outcomes = []
        for ctx, result in zip(batch, results, strict=True):
            committed = result in (COMMITTED, DIVERTED)
            end_commit_span(ctx, committed=committed)
            if result == DIVERTED:
                assert ctx.envelope is not None
                ctx.park(_queued_reason(ctx.envelope.target_id), stage="commit")
                ctx.decision = "parked"
            if result == DUPLICATE:
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
