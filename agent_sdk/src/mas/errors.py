"""Errors raised by MAS.

MASError
├── ConfigError              bad or missing configuration (the CLI exits 2)
├── CredentialsError         credentials missing, unreadable or not matching the registry
├── SignatureError           a signature or delivery failed verification
├── BackgroundTaskDied       a long-running SDK task ended unexpectedly (names it)
└── MessageRejected(code, reason)
    ├── MalformedMessage     400
    ├── Unauthenticated      401
    ├── Forbidden            403
    ├── InvalidPayload       422  the receiver's handler model refused the payload
    ├── RateLimited          429  carries retry_after (seconds)
    ├── BlockedByDLP         451
    └── TargetUnavailable    503
"""

from __future__ import annotations

__all__ = [
    "BackgroundTaskDied",
    "BlockedByDLP",
    "ConfigError",
    "CredentialsError",
    "Forbidden",
    "InvalidPayload",
    "MASError",
    "MalformedMessage",
    "MessageRejected",
    "RateLimited",
    "SignatureError",
    "TargetUnavailable",
    "Unauthenticated",
    "rejection_for_code",
]


class MASError(Exception):
    """Base of every error MAS raises on purpose."""


class ConfigError(MASError):
    """Configuration is missing or invalid; the message names what and where."""


class CredentialsError(MASError):
    """An agent's credentials are missing, unreadable or do not match the registry."""


class SignatureError(MASError):
    """A signature did not verify, or a signed field was missing."""


class BackgroundTaskDied(MASError):
    """A long-running SDK task (a read loop, the heartbeat, ...) ended unexpectedly.

    `task` is its name; the exception it died of, if any, is the ``__cause__``.
    """

    def __init__(self, owner: str, task: str, how: str) -> None:
        super().__init__(f"{owner}: background task {task} {how}; stopping")
        self.task = task


class MessageRejected(MASError):
    """The gateway (or the receiver) refused a message; `code` is HTTP-like."""

    code: int = 0

    def __init__(self, code: int, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.message_id = message_id


class MalformedMessage(MessageRejected):
    """400: the submission could not be parsed or lacks required fields."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(400, reason, message_id=message_id)


class Unauthenticated(MessageRejected):
    """401: unknown agent, bad token, bad signature, revoked, or replayed."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(401, reason, message_id=message_id)


class Forbidden(MessageRejected):
    """403: the authorization policy denies (sender, target, message_type)."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(403, reason, message_id=message_id)


class InvalidPayload(MessageRejected):
    """422: the receiving handler's model rejected the payload."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(422, reason, message_id=message_id)


class RateLimited(MessageRejected):
    """429: the sender's token bucket is empty; retry after `retry_after` seconds."""

    def __init__(
        self, reason: str, *, retry_after: float = 0.0, message_id: str | None = None
    ) -> None:
        super().__init__(429, reason, message_id=message_id)
        self.retry_after = retry_after


class BlockedByDLP(MessageRejected):
    """451: the DLP policy blocks this payload on this route."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(451, reason, message_id=message_id)


class TargetUnavailable(MessageRejected):
    """503: the target agent is not known to the registry."""

    def __init__(self, reason: str, *, message_id: str | None = None) -> None:
        super().__init__(503, reason, message_id=message_id)


_BY_CODE: dict[int, type[MessageRejected]] = {
    400: MalformedMessage,
    401: Unauthenticated,
    403: Forbidden,
    422: InvalidPayload,
    429: RateLimited,
    451: BlockedByDLP,
    503: TargetUnavailable,
}


def rejection_for_code(
    code: int, reason: str, *, message_id: str | None = None, retry_after: float = 0.0
) -> MessageRejected:
    """Build the most specific `MessageRejected` subclass for a rejection code."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return MessageRejected(code, reason, message_id=message_id)
    if cls is RateLimited:
        return RateLimited(reason, retry_after=retry_after, message_id=message_id)
    return cls(reason, message_id=message_id)  # type: ignore[call-arg]
