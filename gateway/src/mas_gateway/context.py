"""MessageContext: one submission as it moves through the gateway pipeline."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from mas import keys
from mas.envelope import Envelope
from mas.errors import MessageRejected
from mas.records import TrustRecord

from .verdicts import DeadLettered, Duplicate, Parked, Rejected, Verdict

__all__ = ["DLPFinding", "MessageContext"]


@dataclass(frozen=True)
class DLPFinding:
    """One sensitive value found by DLP: where and what, never the value itself."""

    entity_type: str
    path: str
    start: int
    end: int
    score: float


@dataclass
class MessageContext:
    """State of one outbox entry; stages read it and fill in their part.

    A stage may replace `data` (e.g. DLP redaction); it must then set `modified`.
    """

    entry_id: str
    fields: dict[str, bytes]
    origin: str = ""
    """The agent whose outbox held the entry: only that agent's Redis user can write there."""
    received_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)

    raw_envelope: bytes = b""
    envelope: Envelope | None = None
    data: dict[str, Any] = field(default_factory=dict)
    modified: bool = False

    sender_trust: TrustRecord | None = None
    sender_roles: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()

    authz_rule: str | None = None
    policy_version: str | None = None
    shadow_decisions: list[dict[str, Any]] = field(default_factory=list)

    dlp_findings: list[DLPFinding] = field(default_factory=list)
    dlp_action: str | None = None
    redacted_paths: list[str] = field(default_factory=list)
    withheld: set[str] = field(default_factory=set)
    """Envelope fields DLP found sensitive data in: no audit entry, notice or log holds them."""

    dlp_route: str | None = None
    """Name of the DLP route whose rules applied."""

    park_if_queued: bool = False
    """Set by the circuit stage: the commit parks the delivery instead when its target's
    parked queue is not empty (so a message never overtakes one parked before it)."""

    verdict: Verdict | None = None
    """Set through `reject`, `dead_letter`, `park` or `drop_duplicate`; None: it goes on."""
    decision: str | None = None
    span: Any = None
    """The OpenTelemetry span of this message in the gateway, if tracing is on."""
    commit_span: Any = None
    send_span: Any = None
    _forwarded: str | None = field(default=None, repr=False)
    """Open while the message is committed / its delivery is built and committed."""

    def forwarded_marker(self) -> str:
        """The key that says the sender already had this message id forwarded (computed once:
        the dedup stage reads it, the commit writes it)."""
        if self._forwarded is None:
            assert self.envelope is not None, "known once the envelope is parsed"
            digest = hashlib.sha256(self.envelope.message_id.encode("utf-8")).hexdigest()[:32]
            self._forwarded = keys.forwarded(self.envelope.sender_id, digest)
        return self._forwarded

    def reject(self, error: MessageRejected, *, stage: str) -> None:
        """Stop the message with `error`; the sender is told."""
        self.verdict = Rejected(error, stage)

    def dead_letter(self, *, stage: str, reason: str | None = None) -> None:
        """Stop the message because the gateway failed on it (500, fail closed)."""
        reason = reason or f"internal gateway error in stage {stage}; the message was dead-lettered"
        self.verdict = DeadLettered(
            MessageRejected(500, reason, message_id=self.message_id), reason, stage
        )

    def park(self, reason: str, *, stage: str) -> None:
        """Hold the message back, to be delivered when its target can take it."""
        self.verdict = Parked(reason, stage)

    def drop_duplicate(self, *, stage: str) -> None:
        """Stop a resubmission of a message id already forwarded (nobody is told)."""
        self.verdict = Duplicate(stage)

    @property
    def rejection(self) -> MessageRejected | None:
        """The error the sender is told about, when the message was stopped with one."""
        verdict = self.verdict
        return verdict.error if isinstance(verdict, Rejected | DeadLettered) else None

    @property
    def dead_letter_reason(self) -> str | None:
        """Why the gateway dead-lettered the message, if it did."""
        return self.verdict.reason if isinstance(self.verdict, DeadLettered) else None

    @property
    def sender_id(self) -> str:
        """Sender from the parsed envelope, else the owner of the outbox it came from."""
        if self.envelope is not None:
            return self.envelope.sender_id
        return self.origin

    @property
    def outbox(self) -> str:
        """The outbox stream the entry came from."""
        return keys.agent_outbox(self.origin)

    @property
    def message_id(self) -> str | None:
        """The envelope's message id once parsed (None when withheld)."""
        return self.recordable("message_id")

    def scrub(self, text: str) -> str:
        """`text` (e.g. a rejection reason) with the value of every withheld field replaced."""
        if self.envelope is None:
            return text
        for name in sorted(self.withheld):
            if name.startswith("trace."):
                value = self.envelope.trace.get(name.removeprefix("trace."))
            else:
                value = getattr(self.envelope, name, None)
            if isinstance(value, str) and value:
                text = text.replace(value, "<withheld>")
        return text

    def recordable(self, name: str) -> str | None:
        """A text field of the parsed envelope, or None when absent or `withheld`."""
        if self.envelope is None or name in self.withheld:
            return None
        value = getattr(self.envelope, name, None)
        return value if isinstance(value, str) else None

    def elapsed_ms(self) -> float:
        """Milliseconds since the gateway started on this entry."""
        return (time.perf_counter() - self.started) * 1000.0
