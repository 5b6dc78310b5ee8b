"""What the harness reads back: the journals of the agents, the audit log, the dead letters."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from redis.exceptions import RedisError

from mas import keys

from ..policies import BULK_RECEIVER, BULK_SENDER
from .journal import read_journal, read_journals
from .stack import ChaosStack

__all__ = ["AuditWatcher", "Handled", "SenderLog", "dead_letters", "handled_records", "sender_log"]


Rows = list[tuple[bytes, dict[bytes, bytes]]]


def xrange(
    client: redis.Redis, key: str, start: str = "-", end: str = "+", count: int | None = None
) -> Rows:
    """XRANGE with its reply typed (entry id, fields), as bytes."""
    return cast(Rows, client.xrange(key, start, end, count=count))


@dataclass(frozen=True)
class Handled:
    """One journal line of a receiver: an instance finished handling a message."""

    run: str
    seq: int
    message_id: str
    instance: str
    at: float


def handled_records(stack: ChaosStack) -> list[Handled]:
    """Every message handled by any receiver instance, in no particular order."""
    out: list[Handled] = []
    for r in read_journals(stack.work / "journals", "receiver-*.jsonl"):
        if r.get("event") == "handled":
            out.append(
                Handled(str(r["run"]), int(r["seq"]), str(r["mid"]), str(r["inst"]), float(r["t"]))
            )
    return out


@dataclass
class SenderLog:
    """What the sender of a run journaled."""

    acked: dict[int, tuple[str, float]] = field(default_factory=dict[int, tuple[str, float]])
    """seq -> (message id, when send() returned)."""
    failed: dict[int, str] = field(default_factory=dict[int, str])
    """seq -> exception name."""
    done: bool = False
    last_sent_at: float = 0.0
    """When any send (probes included) last returned."""


def sender_log(stack: ChaosStack, run: str) -> SenderLog:
    """What the sender journaled about `run` (any run counts for `last_sent_at`)."""
    log = SenderLog()
    for r in read_journal(stack.sender_journal):
        event = r.get("event")
        if event == "sent":
            log.last_sent_at = max(log.last_sent_at, float(r["t"]))
        if r.get("run") != run:
            continue
        if event == "sent":
            log.acked[int(r["seq"])] = (str(r["mid"]), float(r["t"]))
        elif event == "send_failed":
            log.failed[int(r["seq"])] = str(r["error"])
        elif event == "done":
            log.done = True
    return log


class AuditWatcher:
    """Reads new audit entries as they come: who decided what, and when each gateway last did."""

    def __init__(self, stack: ChaosStack) -> None:
        self._stack = stack
        self._last = dict.fromkeys(range(keys.INGRESS_SHARDS), "0-0")
        """Per audit shard, the newest entry id read."""
        self.last_decision_at: dict[str, float] = {}
        """gateway id -> time of its newest decision seen."""

    def poll(self) -> None:
        """Read what was appended since the last poll (nothing while Redis is unreachable)."""
        try:
            with self._stack.admin() as client:
                for shard in self._last:
                    self._poll_shard(client, shard)
        except RedisError:
            return

    def _poll_shard(self, client: redis.Redis, shard: int) -> None:
        while True:
            rows = xrange(client, keys.audit_log(shard), f"({self._last[shard]}", "+", 1000)
            if not rows:
                return
            for entry_id, fields in rows:
                self._last[shard] = entry_id.decode()
                entry = json.loads(fields[b"entry"])
                gateway = str(entry.get("gateway_id"))
                at = float(entry.get("time") or 0.0)
                self.last_decision_at[gateway] = max(self.last_decision_at.get(gateway, 0.0), at)


def delivered_ids(client: redis.Redis, message_ids: set[str]) -> dict[str, int]:
    """message id -> how many times the audit log records it delivered, for `message_ids`."""
    counts: dict[str, int] = defaultdict(int)
    last = "-"
    # every decision about the bulk sender's messages is logged in its shard
    audit_log = keys.audit_log(keys.ingress_shard(BULK_SENDER))
    while True:
        rows = xrange(client, audit_log, last, "+", 5000)
        rows = [r for r in rows if r[0].decode() != last]
        if not rows:
            return dict(counts)
        for entry_id, fields in rows:
            last = entry_id.decode()
            entry: dict[str, Any] = json.loads(fields[b"entry"])
            mid = entry.get("message_id")
            if (
                mid in message_ids
                and entry.get("sender") == BULK_SENDER
                and entry.get("decision") in ("delivered", "redacted")
            ):
                counts[str(mid)] += 1


def dead_letters(client: redis.Redis, run: str, message_ids: set[str]) -> tuple[int, list[str]]:
    """Dead letters of the run (the receiver's and the gateway's); their count and reasons."""
    reasons: list[str] = []
    for _id, fields in xrange(client, keys.agent_dlq(BULK_RECEIVER)):
        try:
            data = json.loads(fields[b"envelope"]).get("data", {})
        except (KeyError, ValueError):
            continue
        if isinstance(data, dict) and data.get("run") == run:  # pyright: ignore[reportUnknownMemberType]
            reasons.append(f"receiver: {fields.get(b'dlq_reason', b'').decode()}")
    for _id, fields in xrange(client, keys.DLQ):
        if fields.get(b"dlq_message_id", b"").decode() in message_ids:
            reasons.append(f"gateway: {fields.get(b'dlq_reason', b'').decode()}")
    return len(reasons), reasons
