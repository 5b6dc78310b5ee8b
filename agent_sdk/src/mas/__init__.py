"""MAS agent SDK: typed agents on Redis Streams, every message through a security gateway.

`Agent`, `AgentMessage` and `MASService` are imported on first use: a tool that needs
only the errors or the key names does not load Redis, Pydantic and OpenTelemetry.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from .errors import (
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

if _typing.TYPE_CHECKING:
    from .agent import Agent
    from .message import AgentMessage
    from .service import MASService

__all__ = [
    "Agent",
    "AgentMessage",
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

_HOMES = {"Agent": ".agent", "AgentMessage": ".message", "MASService": ".service"}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value
