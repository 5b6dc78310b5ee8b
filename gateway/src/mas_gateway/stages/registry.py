"""The stage registry: each stage is registered by name; settings give their order.

Adding a stage is writing its module, one `register` line here (or in a plugin),
and naming it in the ``stages`` setting. A factory gets the `StageEnv` (the Redis
client, the settings, the policy store, a place to register closers) and returns
the stage, or None when it does not apply (e.g. DLP without ``dlp.yaml``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from mas.errors import ConfigError

from ..policy import PolicyStore
from ..settings import DEFAULT_STAGES, GatewaySettings
from .authn import AuthenticationStage
from .authz import AuthorizationStage
from .backpressure import BackpressureStage
from .base import Stage
from .circuit import CircuitStage
from .dedup import DedupStage
from .dlp import build_dlp_stage
from .parse import ParseStage
from .ratelimit import RateLimitStage
from .target import TargetStage

__all__ = ["DEFAULT_STAGES", "StageEnv", "StageFactory", "build_stages", "register", "registered"]

Closer = Callable[[], Awaitable[None]]


@dataclass
class StageEnv:
    """What a stage factory may use."""

    client: aioredis.Redis
    settings: GatewaySettings
    policy: PolicyStore
    closers: list[Closer] = field(default_factory=list)
    """Called in reverse order when the gateway stops."""


StageFactory = Callable[[StageEnv], Awaitable[Stage | None]]


_REGISTRY: dict[str, StageFactory] = {}


def register(name: str, factory: StageFactory) -> None:
    """Make `factory` the builder of the stage called `name` (a later call replaces it)."""
    _REGISTRY[name] = factory


def registered() -> list[str]:
    """Names of every registered stage."""
    return sorted(_REGISTRY)


async def build_stages(names: tuple[str, ...] | list[str], env: StageEnv) -> list[Stage]:
    """The stages `names` name, in order.

    Raises:
        ConfigError: a name no stage is registered under.
    """
    unknown = [name for name in names if name not in _REGISTRY]
    if unknown:
        raise ConfigError(
            f"unknown stage(s) {', '.join(unknown)} in the stages setting; "
            f"registered: {', '.join(registered())}"
        )
    stages: list[Stage] = []
    for name in names:
        stage = await _REGISTRY[name](env)
        if stage is not None:
            stages.append(stage)
    return stages


async def _parse(env: StageEnv) -> Stage:
    return ParseStage(max_envelope_bytes=env.settings.max_envelope_bytes)


async def _authn(env: StageEnv) -> Stage:
    return AuthenticationStage(
        env.client,
        replay_window_s=env.settings.replay_window_s,
        auto_provision=env.settings.auto_provision,
    )


async def _dedup(env: StageEnv) -> Stage:
    return DedupStage(env.client)


async def _backpressure(env: StageEnv) -> Stage:
    return BackpressureStage(
        env.client,
        max_inbox=env.settings.max_inbox,
        max_outbox_lag=env.settings.max_outbox_lag,
    )


async def _authz(env: StageEnv) -> Stage:
    return AuthorizationStage()


async def _target(env: StageEnv) -> Stage:
    return TargetStage(env.client)


async def _ratelimit(env: StageEnv) -> Stage:
    return RateLimitStage(env.client)


async def _circuit(env: StageEnv) -> Stage:
    return CircuitStage(env.client)


register("parse", _parse)
register("authn", _authn)
register("dedup", _dedup)
register("authz", _authz)
register("target", _target)
register("ratelimit", _ratelimit)
register("backpressure", _backpressure)
register("dlp", build_dlp_stage)
register("circuit", _circuit)
