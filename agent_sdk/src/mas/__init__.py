"""MAS agent SDK: typed agents on Redis Streams, every message through a security gateway."""

from __future__ import annotations

from .agent import Agent
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
