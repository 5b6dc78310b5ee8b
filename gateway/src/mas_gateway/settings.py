"""GatewaySettings: typed configuration from MAS_* environment variables or a YAML file."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mas.errors import ConfigError
from mas.validation import validation_summary

from .paths import default_policies_dir

__all__ = ["DEFAULT_STAGES", "WITNESS_NAME", "GatewaySettings", "default_policies_dir"]

DEFAULT_STAGES = (
    "parse",
    "authn",
    "dedup",
    "authz",
    "target",
    "ratelimit",
    "backpressure",
    "dlp",
    "circuit",
)
"""The default pipeline, in order."""

WITNESS_NAME = "audit-witness.json"
"""File name of the audit witness, next to the gateway's signing key by default."""


def _default_gateway_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class GatewaySettings(BaseSettings):
    """Everything a gateway process needs to know; env prefix ``MAS_``."""

    model_config = SettingsConfigDict(env_prefix="MAS_", extra="forbid")

    redis_url: str = "redis://localhost:6379/0"
    policies_dir: Path = Field(default_factory=default_policies_dir)
    gateway_id: str = Field(default_factory=_default_gateway_id)
    signing_key_path: Path = Path(".mas/gateway_signing_key")
    auto_provision: bool = False
    """Development: accept auto-provisioned agents, create a missing signing key, only warn on
    least-privilege problems."""

    batch_size: int = Field(default=64, ge=1, le=10_000)
    block_ms: int = Field(default=500, ge=1)
    claim_idle_ms: int = Field(default=30_000, ge=10)
    """Entries pending this long on a gateway consumer are taken over by another."""
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    """A signed audit checkpoint is written at least every this many entries..."""
    audit_checkpoint_interval_s: float = Field(default=5.0, gt=0)
    """...and at least this often while new entries arrive."""
    dlp_workers: int | None = Field(default=None, ge=0)
    """DLP scanning processes; None: as ``performance.workers`` in dlp.yaml, 0: in-process."""
    policy_poll_s: float | None = Field(default=2.0, gt=0)
    """How often policy files are checked for changes (None: only on `mas policy reload`)."""
    max_envelope_bytes: int = Field(default=1_048_576, ge=1024)
    """Larger submissions are refused with 400."""
    replay_window_s: float = Field(default=300.0, gt=0)
    """Submissions whose timestamp is further than this from the gateway clock are refused."""
    stages: list[str] = Field(default_factory=lambda: list(DEFAULT_STAGES))
    """The pipeline: registered stage names, in order (see `mas_gateway.stages.registry`)."""
    circuit_poll_s: float = Field(default=1.0, gt=0)
    """How often circuit states are evaluated and parked messages released."""
    audit_witness_path: Path | None = None
    """File keeping the newest signed audit checkpoint outside Redis (None: next to the key)."""
    redis_socket_timeout_s: float = Field(default=10.0, gt=0)
    """A Redis call that gets no answer for this long fails (and is retried); blocking reads
    (`block_ms`) must end well within it."""
    message_dedup_window_s: float = Field(default=600.0, gt=0)
    """A sender's message id forwarded once is not forwarded again for this long (a retry of
    a timed-out send delivers once)."""
    commit_replicas: int = Field(default=0, ge=0)
    """Replicas that must hold a committed batch before the gateway goes on (Redis ``WAIT``,
    see ARCHITECTURE.md "High availability"); 0: do not wait (a single node has none)."""
    replica_timeout_ms: int = Field(default=1000, ge=1)
    """How long one ``WAIT`` for `commit_replicas` may take before it is tried again."""
    max_inbox: int = Field(default=10_000, ge=1)
    """Deliveries waiting in one agent's inbox past which its senders get 429."""
    max_outbox_lag: int = Field(default=10_000, ge=1)
    """Entries waiting in one agent's outbox past which its new submissions get 429."""

    http_address: str | None = None
    """``host:port`` of the operations endpoints (/healthz, /readyz, /metrics); None: off."""
    dashboard_token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """SHA-256 of the operator token that opens the dashboard (None: the dashboard is off)."""
    ready_stall_s: float = Field(default=30.0, gt=0)
    """/readyz fails when the consume loop has not completed a round for this long."""

    @model_validator(mode="after")
    def _timeouts_fit(self) -> GatewaySettings:
        margin_ms = 1000
        if self.commit_replicas and self.replica_timeout_ms >= self.redis_socket_timeout_s * 1000:
            raise ValueError(
                f"replica_timeout_ms ({self.replica_timeout_ms} ms) must be below "
                f"redis_socket_timeout_s ({self.redis_socket_timeout_s:g} s): every WAIT "
                "would time out"
            )
        if self.block_ms + margin_ms > self.redis_socket_timeout_s * 1000:
            raise ValueError(
                f"block_ms ({self.block_ms} ms) must be at least {margin_ms} ms shorter than "
                f"redis_socket_timeout_s ({self.redis_socket_timeout_s:g} s): a blocking read "
                "would otherwise time out while waiting for nothing"
            )
        return self

    @property
    def witness_path(self) -> Path:
        """Where the audit witness is kept."""
        return self.audit_witness_path or self.signing_key_path.with_name(WITNESS_NAME)

    @classmethod
    def build(cls, **values: Any) -> GatewaySettings:
        """Settings from `values` and the environment; `ConfigError` names what is wrong."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(f"invalid gateway settings: {validation_summary(exc)}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> GatewaySettings:
        """Load settings from a YAML mapping; environment variables still apply on top."""
        file = Path(path)
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read settings file {file}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"settings file {file} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"settings file {file} must hold a mapping")
        # Precedence: explicit overrides (CLI flags) > MAS_* environment > the file.
        from_file = {k: v for k, v in loaded.items() if f"MAS_{str(k).upper()}" not in os.environ}
        try:
            return cls(**{**from_file, **overrides})
        except ValidationError as exc:
            raise ConfigError(f"invalid settings in {file}: {validation_summary(exc)}") from exc
