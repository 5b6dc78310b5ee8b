"""StateStore: an agent's pydantic state persisted as one JSON value per field in a hash."""

from __future__ import annotations

import json
import logging
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.typing import EncodableT, FieldT

from . import keys
from .errors import ConfigError
from .redis_text import as_text

__all__ = ["DefaultState", "StateStore", "build_state"]

logger = logging.getLogger(__name__)

StateT = TypeVar("StateT", bound=BaseModel)


class DefaultState(BaseModel):
    """State of an agent without a model: any JSON-encodable field is accepted.

    Read it by attribute (``state.status``) or as a read-only mapping
    (``state["status"]``, ``"status" in state``, ``state.get(...)``, ``keys()``,
    ``items()``, ``values()``, iteration, ``len``). A field named like one of these
    methods is read with ``state["keys"]``.
    """

    model_config = ConfigDict(extra="allow")

    def _fields(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})

    def __getitem__(self, name: str) -> Any:
        fields = self._fields()
        if name not in fields:
            raise KeyError(name)
        return fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fields()

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]  # a mapping iterates keys
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def get(self, name: str, default: Any = None) -> Any:
        """The value of field `name`, or `default` when there is none."""
        return self._fields().get(name, default)

    def keys(self) -> KeysView[str]:
        """The field names."""
        return self._fields().keys()

    def items(self) -> ItemsView[str, Any]:
        """(field name, value) pairs."""
        return self._fields().items()

    def values(self) -> ValuesView[Any]:
        """The field values."""
        return self._fields().values()


def _field_names(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def _allows_extra(model: type[BaseModel]) -> bool:
    return model.model_config.get("extra") == "allow"


class StateStore(Generic[StateT]):
    """Loads, updates and resets the state hash ``agent.state:{id}``."""

    def __init__(self, redis: aioredis.Redis, agent_id: str, model: type[StateT]) -> None:
        self._redis = redis
        self._key = keys.agent_state(agent_id)
        self._agent_id = agent_id
        self._model = model

    def initial(self) -> StateT:
        """The model's defaults; `ConfigError` naming fields that have none."""
        return self._build({})

    async def load(self) -> StateT:
        """Stored state; fields that no longer fit the model are dropped with a warning."""
        raw = await self._redis.hgetall(self._key)
        values: dict[str, Any] = {}
        bad: dict[str, str] = {}
        names = _field_names(self._model)
        extra_ok = _allows_extra(self._model)
        for key, value in raw.items():
            name = as_text(key)
            if name not in names and not extra_ok:
                bad[name] = "no longer a field of the model"
                continue
            try:
                values[name] = json.loads(value)
            except (json.JSONDecodeError, UnicodeDecodeError):
                bad[name] = "stored value is not valid JSON"
        state, invalid = self._validate_dropping(values)
        bad.update(invalid)
        if bad:
            detail = "; ".join(f"{name}: {why}" for name, why in sorted(bad.items()))
            logger.warning(
                "stored state of agent %s does not fit %s; using defaults for field(s) %s (%s)",
                self._agent_id,
                self._model.__name__,
                ", ".join(sorted(bad)),
                detail,
            )
        return state

    async def update(self, current: StateT, changes: dict[str, Any]) -> StateT:
        """Validate `changes` against the model, persist the changed fields, return new state."""
        if not isinstance(changes, dict):
            raise TypeError("update_state() takes a dict of field -> value")
        unknown = set(changes) - _field_names(self._model)
        if unknown and not _allows_extra(self._model):
            raise ValueError(
                f"update_state(): unknown field(s) {', '.join(sorted(unknown))} "
                f"for state model {self._model.__name__}"
            )
        merged = {**current.model_dump(), **changes}
        try:
            new_state = self._model.model_validate(merged)
        except ValidationError as exc:
            raise ValueError(
                f"update_state(): invalid value for {self._model.__name__}: {_summary(exc)}"
            ) from exc
        dumped = new_state.model_dump(mode="json")
        mapping: dict[FieldT, EncodableT] = {
            name: json.dumps(dumped[name], separators=(",", ":")) for name in changes
        }
        if mapping:
            await self._redis.hset(self._key, mapping=mapping)
        return new_state

    async def reset(self) -> StateT:
        """Delete the stored state and return the model's defaults."""
        await self._redis.delete(self._key)
        return self.initial()

    def _validate_dropping(self, values: dict[str, Any]) -> tuple[StateT, dict[str, str]]:
        bad: dict[str, str] = {}
        for _ in range(len(values) + 1):
            try:
                return self._model.model_validate(values), bad
            except ValidationError as exc:
                offending = {
                    str(err["loc"][0]): err["msg"]
                    for err in exc.errors()
                    if err["loc"] and str(err["loc"][0]) in values
                }
                if not offending:
                    break
                for name, msg in offending.items():
                    bad.setdefault(name, msg)
                    values.pop(name, None)
        return self._build(values), bad

    def _build(self, values: dict[str, Any]) -> StateT:
        return build_state(self._model, values)


def build_state(model: type[StateT], values: dict[str, Any] | None = None) -> StateT:
    """`model` from `values` and defaults; `ConfigError` naming fields that have no value."""
    try:
        return model.model_validate(values or {})
    except ValidationError as exc:
        missing = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
        raise ConfigError(
            f"state model {model.__name__} needs a default for field(s) {', '.join(missing)}"
        ) from exc


def _summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "state"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
