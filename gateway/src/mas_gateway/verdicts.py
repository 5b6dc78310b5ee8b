"""Verdicts: what a stage decided about a message, set through `MessageContext` methods.

A message without a verdict goes on to the next stage and, after the last one, is
delivered. ``Rejected`` stops it with a code the sender is told about;
``DeadLettered`` stops it because the gateway itself failed (500, kept in the
gateway's dead letters as metadata); ``Parked`` holds it for a target whose
circuit is open, to be delivered later; ``Duplicate`` acknowledges a resubmission
of a message already forwarded (audited, nobody told).
"""

from __future__ import annotations

from dataclasses import dataclass

from mas.errors import MessageRejected

__all__ = ["DeadLettered", "Duplicate", "Parked", "Rejected", "Verdict"]


@dataclass(frozen=True)
class Rejected:
    """Refused with `error` by `stage`; the sender gets a signed notice."""

    error: MessageRejected
    stage: str


@dataclass(frozen=True)
class DeadLettered:
    """The gateway failed on the message in `stage` (fail closed): 500, dead-lettered."""

    error: MessageRejected
    reason: str
    stage: str


@dataclass(frozen=True)
class Parked:
    """Held back by `stage` (e.g. an open circuit); delivered when released."""

    reason: str
    stage: str


@dataclass(frozen=True)
class Duplicate:
    """The sender's message id was already forwarded: acknowledged, audited, not delivered."""

    stage: str


Verdict = Rejected | DeadLettered | Parked | Duplicate
