"""Credentials: an agent's token, Ed25519 key and Redis user, found on disk or provisioned.

A credential file is JSON ``{"agent_id", "token", "private_key", "redis_username",
"redis_password", "gateway_keys"}`` (private key: base64 raw Ed25519; gateway_keys:
key id -> base64 public key), readable by its owner only. The agent connects to
Redis as its own user, which may touch nothing but the agent's own keys.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import crypto
from .errors import CredentialsError, SignatureError
from .options import AgentOptions

if TYPE_CHECKING:
    from .provisioning import IssuedCredentials

__all__ = [
    "PROVISION_HINT",
    "Credentials",
    "default_credentials_dir",
    "find_credentials",
]

PROVISION_HINT = "mas agent provision {agent_id} --role ROLE"


def default_credentials_dir(options: AgentOptions | None = None) -> Path:
    """Option ``credentials_dir``, else env ``MAS_CREDENTIALS_DIR``, else the user config dir."""
    if options is not None and options.credentials_dir is not None:
        return Path(options.credentials_dir).expanduser()
    env = os.environ.get("MAS_CREDENTIALS_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "mas" / "credentials"


@dataclass(frozen=True)
class Credentials:
    """What an agent needs to submit messages; secrets are kept out of `repr`."""

    agent_id: str
    token: str = field(repr=False)
    private_key: Ed25519PrivateKey = field(repr=False)
    redis_username: str = ""
    redis_password: str = field(default="", repr=False)
    gateway_keys: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @property
    def public_key(self) -> str:
        """Base64 raw public key."""
        return crypto.public_key_to_b64(self.private_key)

    @property
    def key_id(self) -> str:
        """Id of the agent's key."""
        return crypto.key_id(self.private_key)

    @classmethod
    def issued(
        cls,
        *,
        agent_id: str,
        token: str,
        private_key_b64: str,
        redis_username: str,
        redis_password: str,
        gateway_keys: dict[str, str],
    ) -> Credentials:
        """Credentials an operator just issued (not yet saved)."""
        return cls(
            agent_id,
            token,
            crypto.load_private_key(private_key_b64),
            redis_username,
            redis_password,
            dict(gateway_keys),
        )

    @classmethod
    def from_issued(cls, issued: IssuedCredentials, gateway_keys: dict[str, str]) -> Credentials:
        """The credential file for what `provision_agent` just issued, pinning `gateway_keys`."""
        return cls.issued(
            agent_id=issued.agent_id,
            token=issued.token,
            private_key_b64=issued.private_key_b64,
            redis_username=issued.redis_username,
            redis_password=issued.redis_password,
            gateway_keys=gateway_keys,
        )

    @classmethod
    def load(cls, path: Path) -> Credentials:
        """Read and check a credential file; `CredentialsError` names the problem."""
        try:
            info = path.stat()
        except FileNotFoundError as exc:
            raise CredentialsError(f"credential file {path} does not exist") from exc
        if os.name == "posix" and info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise CredentialsError(
                f"credential file {path} is accessible by other users (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CredentialsError(f"credential file {path} is not readable JSON") from exc
        if not isinstance(obj, dict):
            raise CredentialsError(f"credential file {path} must hold a JSON object")
        return cls._from_obj(obj, path)

    @classmethod
    def _from_obj(cls, obj: dict[str, Any], path: Path) -> Credentials:
        for name in ("agent_id", "token", "private_key", "redis_username", "redis_password"):
            if not isinstance(obj.get(name), str) or not obj[name]:
                raise CredentialsError(
                    f"credential file {path} lacks a string {name!r}; issue a new one with "
                    f"`{PROVISION_HINT.format(agent_id=obj.get('agent_id', 'ID'))} --replace-key`"
                )
        gateway_keys = obj.get("gateway_keys") or {}
        if not isinstance(gateway_keys, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in gateway_keys.items()
        ):
            raise CredentialsError(
                f"credential file {path}: gateway_keys must map key ids to base64 public keys"
            )
        try:
            private_key = crypto.load_private_key(obj["private_key"])
            for value in gateway_keys.values():
                crypto.load_public_key(value)
        except SignatureError as exc:
            raise CredentialsError(f"credential file {path} holds an invalid key: {exc}") from exc
        return cls(
            obj["agent_id"],
            obj["token"],
            private_key,
            obj["redis_username"],
            obj["redis_password"],
            dict(gateway_keys),
            path,
        )

    def with_gateway_keys(self, gateway_keys: dict[str, str]) -> Credentials:
        """A copy that also pins `gateway_keys`."""
        return replace(self, gateway_keys={**self.gateway_keys, **gateway_keys})

    def save(self, path: Path) -> Credentials:
        """Atomically write the file with mode 0600; return a copy that knows its path."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {
            "agent_id": self.agent_id,
            "token": self.token,
            "private_key": crypto.private_key_to_b64(self.private_key),
            "redis_username": self.redis_username,
            "redis_password": self.redis_password,
            "gateway_keys": self.gateway_keys,
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, indent=2)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return replace(self, path=path)


def find_credentials(agent_id: str, options: AgentOptions) -> tuple[Credentials | None, list[str]]:
    """The agent's credential file per the lookup order, and the places looked at."""
    looked: list[str] = []
    if options.credentials is not None:
        path = Path(options.credentials).expanduser()
        creds = Credentials.load(path)
        if creds.agent_id != agent_id:
            raise CredentialsError(
                f"credential file {path} belongs to agent {creds.agent_id!r}, not {agent_id!r}"
            )
        return creds, [str(path)]
    env = os.environ.get("MAS_CREDENTIALS")
    if env:
        path = Path(env).expanduser()
        creds = Credentials.load(path)
        if creds.agent_id == agent_id:
            return creds, [str(path)]
        looked.append(f"{path} (MAS_CREDENTIALS, belongs to {creds.agent_id!r})")
    path = default_credentials_dir(options) / f"{agent_id}.json"
    looked.append(str(path))
    if path.exists():
        return Credentials.load(path), looked
    return None, looked
