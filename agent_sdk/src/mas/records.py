"""The registry's records and their one encoding: every reader and writer goes through here.

An agent is described by three hashes that share its hash tag:

- its profile ``agent:{id}`` (`Profile`), written by the agent itself: what it
  offers and whether it runs; the MAS service and the operator may change status;
- its identity ``agent:{id}:identity`` (`Identity`), written by the operator,
  readable by every agent: the public key that verifies its signatures;
- its trust record ``agent:{id}:trust`` (`TrustRecord`), written by the operator,
  read by the gateway only: token hash, roles, provisioning, revocation.

Nothing an agent can write decides anything the gateway does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .patterns import AGENT_ID_PATTERN
from .redis_text import as_text

if TYPE_CHECKING:
    from redis.typing import EncodableT, FieldT

__all__ = [
    "Identity",
    "Profile",
    "Provisioner",
    "Status",
    "TrustRecord",
    "check_agent_id",
    "is_valid_agent_id",
]

_ID_RE = re.compile(AGENT_ID_PATTERN)


def is_valid_agent_id(agent_id: object) -> bool:
    """True for a well-formed id that is not reserved (ids starting ``mas.`` are MAS's own)."""
    return (
        isinstance(agent_id, str)
        and bool(_ID_RE.match(agent_id))
        and not agent_id.startswith("mas.")
    )


def check_agent_id(agent_id: object) -> str:
    """`agent_id` if valid, else `ValueError` naming the rule."""
    if not is_valid_agent_id(agent_id):
        raise ValueError(
            f"invalid agent id {agent_id!r}: start with a letter or digit, then letters, "
            "digits, '_', '.' or '-' (at most 128 characters, not starting with 'mas.')"
        )
    assert isinstance(agent_id, str)
    return agent_id


class Status(StrEnum):
    """An agent's lifecycle status as its profile shows it."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    REVOKED = "REVOKED"


class Provisioner(StrEnum):
    """Who issued an agent's credentials."""

    OPERATOR = "operator"
    AUTO = "auto"
    """A development process holding operator rights (``auto_provision``); no roles."""


def _text_map(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in raw.items()}


def _json_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text) if text else []
    except json.JSONDecodeError:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _strict_list(text: str | None) -> list[str] | None:
    """A JSON list of strings, [] when absent, None when malformed."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def _json_dict(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Profile:
    """What an agent publishes about itself for discovery (``agent:{id}``)."""

    agent_id: str
    capabilities: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    status: str = Status.INACTIVE
    registered_at: float = 0.0

    @classmethod
    def from_hash(cls, agent_id: str, raw: Mapping[Any, Any]) -> Profile:
        """Decode an HGETALL reply; the id comes from the key, never from a field."""
        text = _text_map(raw)
        return cls(
            agent_id=agent_id,
            capabilities=tuple(_json_list(text.get("capabilities"))),
            metadata=_json_dict(text.get("metadata")),
            status=text.get("status", Status.INACTIVE),
            registered_at=_float(text.get("registered_at")) or 0.0,
        )

    def to_mapping(self) -> dict[FieldT, EncodableT]:
        """Hash fields to write."""
        return {
            "capabilities": json.dumps(list(self.capabilities)),
            "metadata": json.dumps(self.metadata, default=str),
            "status": str(self.status),
            "registered_at": repr(self.registered_at),
        }

    def public(self) -> dict[str, Any]:
        """The record `discover()` returns."""
        return {
            "id": self.agent_id,
            "capabilities": list(self.capabilities),
            "metadata": dict(self.metadata),
            "status": str(self.status),
            "registered_at": self.registered_at,
        }


@dataclass(frozen=True)
class Identity:
    """An agent's public key as the operator registered it (``agent:{id}:identity``)."""

    public_key: str
    key_id: str

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> Identity | None:
        """Decode an HGETALL reply; None when the agent has no registered key."""
        text = _text_map(raw)
        if not text.get("public_key"):
            return None
        return cls(public_key=text["public_key"], key_id=text.get("key_id", ""))

    def to_mapping(self) -> dict[FieldT, EncodableT]:
        """Hash fields to write."""
        return {"public_key": self.public_key, "key_id": self.key_id}


@dataclass(frozen=True)
class TrustRecord:
    """What the gateway trusts about an agent (``agent:{id}:trust``)."""

    token_hash: str
    roles: tuple[str, ...] = ()
    provisioned_by: str = Provisioner.OPERATOR
    provisioned_at: float = 0.0
    revoked_at: float | None = None
    roles_valid: bool = True
    """False when the stored roles are not a JSON list of names (authorization fails closed)."""

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> TrustRecord | None:
        """Decode an HGETALL reply; None when the agent was never provisioned."""
        text = _text_map(raw)
        if not text:
            return None
        roles = _strict_list(text.get("roles"))
        return cls(
            token_hash=text.get("token_hash", ""),
            roles=tuple(roles or ()),
            roles_valid=roles is not None,
            provisioned_by=text.get("provisioned_by", ""),
            provisioned_at=_float(text.get("provisioned_at")) or 0.0,
            revoked_at=_float(text.get("revoked_at")),
        )

    @property
    def revoked(self) -> bool:
        """True once the operator revoked the agent."""
        return self.revoked_at is not None

    @property
    def operator_provisioned(self) -> bool:
        """True when an operator (not a development auto-provisioning) issued the credentials."""
        return self.provisioned_by == Provisioner.OPERATOR

    def to_mapping(self) -> dict[FieldT, EncodableT]:
        """Hash fields to write (a revocation is written on its own, see `revoked_mapping`)."""
        return {
            "token_hash": self.token_hash,
            "roles": json.dumps(sorted(set(self.roles))),
            "provisioned_by": str(self.provisioned_by),
            "provisioned_at": repr(self.provisioned_at),
        }

    @staticmethod
    def revoked_mapping(at: float) -> dict[FieldT, EncodableT]:
        """Fields that mark a record revoked."""
        return {"revoked_at": repr(at)}
