"""Decision names: what happened to a message, as the gateway logs, counts and audits it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .verdicts import Duplicate, Parked

if TYPE_CHECKING:  # the command line reads DECISIONS without loading the message context
    from .context import MessageContext

__all__ = ["DECISIONS", "DECISION_BY_CODE", "decision_for"]

DECISIONS = (
    "delivered",
    "redacted",
    "denied",
    "rate_limited",
    "blocked",
    "parked",
    "duplicate",
    "released",
    "dead_lettered",
    "malformed",
    "unauthenticated",
    "unavailable",
)
"""Every decision an audit entry may record."""

DECISION_BY_CODE = {
    400: "malformed",
    401: "unauthenticated",
    403: "denied",
    422: "dead_lettered",
    429: "rate_limited",
    451: "blocked",
    500: "dead_lettered",
    503: "unavailable",
}


def decision_for(ctx: MessageContext) -> str:
    """The decision of a context whose stages have run (an unknown code fails safe)."""
    if isinstance(ctx.verdict, Parked):
        return "parked"
    if isinstance(ctx.verdict, Duplicate):
        return "duplicate"
    if ctx.rejection is not None:
        code = ctx.rejection.code
        return DECISION_BY_CODE.get(code, "unavailable" if code >= 500 else "denied")
    return "redacted" if ctx.modified or ctx.redacted_paths else "delivered"
