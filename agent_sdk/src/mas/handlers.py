"""The ``@Agent.on`` decorator and the per-class table of message handlers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from .envelope import MESSAGE_TYPE_PATTERN
from .message import AgentMessage

__all__ = [
    "RESERVED_PREFIX",
    "HandlerSpec",
    "ModelHandler",
    "ModelT",
    "PlainHandler",
    "SelfT",
    "check_message_type",
    "collect_handlers",
    "on",
]

RESERVED_PREFIX = "mas."
"""Message types the SDK and the gateway use themselves (mas.rejected, mas.error)."""

_HANDLER_ATTR = "__mas_handler__"
_TYPE_RE = re.compile(MESSAGE_TYPE_PATTERN)

SelfT = TypeVar("SelfT")
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class HandlerSpec:
    """One registered handler: the message type, its payload model and the method name."""

    message_type: str
    model: type[BaseModel] | None
    attr: str = ""


def check_message_type(message_type: str, *, allow_reserved: bool = False) -> None:
    """Raise `ValueError` unless `message_type` is a valid, non-reserved type name."""
    if not isinstance(message_type, str) or not _TYPE_RE.match(message_type):
        raise ValueError(
            f"invalid message type {message_type!r}: use letters, digits, '_', '.', ':' or '-' "
            "(at most 128 characters)"
        )
    if not allow_reserved and message_type.startswith(RESERVED_PREFIX):
        raise ValueError(
            f"message type {message_type!r} is reserved: types starting with "
            f"{RESERVED_PREFIX!r} are handled by MAS itself"
        )


ModelHandler = Callable[[SelfT, AgentMessage, ModelT], Awaitable[Any]]
"""A handler method whose payload is validated by a model."""

PlainHandler = Callable[[SelfT, AgentMessage, None], Awaitable[Any]]
"""A handler method without a payload model (its payload is None)."""


def on(message_type: str, *, model: type[BaseModel] | None = None) -> Any:
    """Mark an async method as the handler of `message_type`; `model` validates the payload."""
    check_message_type(message_type)
    if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"@Agent.on({message_type!r}, model=...) needs a pydantic model class")

    def decorator(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        setattr(func, _HANDLER_ATTR, HandlerSpec(message_type, model))
        return func

    return decorator


def collect_handlers(cls: type) -> dict[str, HandlerSpec]:
    """Handlers of `cls` and its bases; a subclass overrides a base's handler of the same type."""
    table: dict[str, HandlerSpec] = {}
    for klass in reversed(cls.__mro__):
        own: dict[str, str] = {}
        for name, value in vars(klass).items():
            spec = getattr(value, _HANDLER_ATTR, None)
            if not isinstance(spec, HandlerSpec):
                continue
            if spec.message_type in own:
                raise TypeError(
                    f"{klass.__name__} has two handlers for {spec.message_type!r}: "
                    f"{own[spec.message_type]} and {name}"
                )
            own[spec.message_type] = name
            table[spec.message_type] = HandlerSpec(spec.message_type, spec.model, name)
    return table
