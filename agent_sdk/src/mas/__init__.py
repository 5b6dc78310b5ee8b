"""MAS agent SDK: typed agents on Redis Streams, every message through a security gateway.

`Agent`, `AgentMessage` and `MASService` are imported on first use: a tool that needs
only the errors or the key names does not load Redis, Pydantic and OpenTelemetry.
"""

from __future__ import annotations

import typing as _typing

from .errors import (
    BackgroundTaskDied,
    BlockedByDLP,
    ConfigError,
    CredentialsError,
    Forbidden,
    InvalidPayload,
    MalformedMessage,
    MASError,
    MessageRejected,
    RateLimited,
    SignatureError,
    TargetUnavailable,
    Unauthenticated,
)
from .lazy import lazy_attributes as _lazy_attributes

if _typing.TYPE_CHECKING:
    from .agent import Agent
    from .message import AgentMessage
    from .service import MASService

__all__ = [
    "Agent",
    "AgentMessage",
    "BackgroundTaskDied",
    "BlockedByDLP",
    "ConfigError",
    "CredentialsError",
    "Forbidden",
    "InvalidPayload",
    "MASError",
    "MASService",
    "MalformedMessage",
    "MessageRejected",
    "RateLimited",
    "SignatureError",
    "TargetUnavailable",
    "Unauthenticated",
]

__getattr__ = _lazy_attributes(
    __name__, {"Agent": ".agent", "AgentMessage": ".message", "MASService": ".service"}
)
