"""A production-mode MAS stack of real processes: Redis, gateways, a sender, receiver instances.

Redis runs with AOF and ACLs; the operator provisions the gateway's user and the
agents (`operator`); each gateway and agent instance is its own OS process,
connecting as its own Redis user. The stack acts as the supervisor of its
processes: `supervise()` restarts any that ended on their own and records it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import redis
from redis.exceptions import RedisError

from mas import keys
from mas.redis_connect import connect_redis_sync

from ..policies import BULK_RECEIVER, BULK_SENDER
from .journal import read_journal
from .operator import Provisioned, provision
from .polling import wait_for
from .procs import ManagedProcess, ProcessEvent
from .redis_server import AppendFsync, RedisServer

__all__ = ["ChaosStack", "StackConfig"]

WORKER = [sys.executable, "-m", "mas_gateway.benchmarks.chaos.worker"]
GATEWAY = [sys.executable, "-m", "mas_gateway.cli", "gateway"]


@dataclass(frozen=True)
class StackConfig:
    """Shape and timing of a stack."""

    gateways: int = 2
    receivers: int = 2
    gateway_claim_idle_ms: int = 2000
    """Gateways take over outbox entries pending this long on a peer."""
    receiver_claim_idle_s: float = 2.0
    """Receiver instances take over inbox entries pending this long on a peer."""
    block_ms: int = 100
    batch_size: int = 16
    appendfsync: AppendFsync = "always"
    start_timeout_s: float = 180.0
    """A loaded machine may take long to start a gateway (policy tests, NLP model)."""


def _consumers(client: redis.Redis, stream: str, group: str) -> list[dict[str, Any]]:
    """XINFO CONSUMERS, typed."""
    return cast("list[dict[str, Any]]", client.xinfo_consumers(stream, group))


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAS_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class ChaosStack:
    """The processes of one chaos run; a context manager that never leaves one behind."""

    work: Path
    config: StackConfig = field(default_factory=StackConfig)
    events: list[ProcessEvent] = field(default_factory=list[ProcessEvent])
    gateways: list[ManagedProcess] = field(default_factory=list[ManagedProcess])
    receivers: list[ManagedProcess] = field(default_factory=list[ManagedProcess])
    sender_proc: ManagedProcess | None = None
    redis: RedisServer | None = None
    provisioned: Provisioned | None = None

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> ChaosStack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start Redis, provision, start the gateways and receivers; wait until all work."""
        cfg = self.config
        self.redis = RedisServer(self.work / "redis", appendfsync=cfg.appendfsync)
        self.redis.start()
        self.provisioned = provision(self.redis.url, self.work)
        for i in range(1, cfg.gateways + 1):
            self.gateways.append(self._gateway(f"chaos-gw{i}"))
        for i in range(1, cfg.receivers + 1):
            self.receivers.append(self._receiver(f"r{i}"))
        self.sender_proc = self._sender()
        for proc in [*self.gateways, *self.receivers, self.sender_proc]:
            proc.start()
        self.wait_ready(cfg.start_timeout_s)

    def close(self) -> None:
        """Kill every process of the stack, Redis last."""
        for proc in [self.sender_proc, *self.receivers, *self.gateways]:
            if proc is not None:
                proc.close()
        if self.redis is not None:
            self.redis.close()

    # -- processes -----------------------------------------------------------------
    def _record(self, event: ProcessEvent) -> None:
        self.events.append(event)

    def _gateway(self, gateway_id: str) -> ManagedProcess:
        cfg, prov = self.config, self._prov()
        env = _child_env(
            {
                "MAS_GATEWAY_ID": gateway_id,
                "MAS_CLAIM_IDLE_MS": str(cfg.gateway_claim_idle_ms),
                "MAS_BLOCK_MS": str(cfg.block_ms),
                "MAS_BATCH_SIZE": str(cfg.batch_size),
                "MAS_DLP_WORKERS": "0",
                "MAS_AUDIT_WITNESS_PATH": str(self.work / f"{gateway_id}-witness.json"),
            }
        )
        argv = [
            *GATEWAY,
            "--redis-url", prov.gateway_url,
            "--policies", str(prov.policies),
            "--signing-key", str(prov.signing_key),
            "--log-level", "INFO",
        ]  # fmt: skip
        return ManagedProcess(
            gateway_id, argv, env, self.work / "logs" / f"{gateway_id}.log", self._record
        )

    def _receiver(self, instance: str) -> ManagedProcess:
        argv = [
            *WORKER, "receive",
            "--redis-url", self.plain_url,
            "--credentials", str(self._prov().receiver_credentials),
            "--journal", str(self.receiver_journal(instance)),
            "--instance", instance,
            "--claim-idle", str(self.config.receiver_claim_idle_s),
        ]  # fmt: skip
        log = self.work / "logs" / f"receiver-{instance}.log"
        return ManagedProcess(f"receiver-{instance}", argv, _child_env({}), log, self._record)

    def _sender(self) -> ManagedProcess:
        argv = [
            *WORKER, "send",
            "--redis-url", self.plain_url,
            "--credentials", str(self._prov().sender_credentials),
            "--journal", str(self.sender_journal),
        ]  # fmt: skip
        log = self.work / "logs" / "sender.log"
        return ManagedProcess("sender", argv, _child_env({}), log, self._record, stdin_pipe=True)

    def send(self, run: str, count: int, rate: float) -> None:
        """Have the sender send `count` messages at `rate`/s tagged `run` (it probes after)."""
        self.sender().write_line(json.dumps({"run": run, "count": count, "rate": rate}))

    def sender(self) -> ManagedProcess:
        """The sender process."""
        if self.sender_proc is None:
            raise RuntimeError("the stack is not started")
        return self.sender_proc

    def supervise(self) -> list[str]:
        """Restart every process that ended on its own; what happened to each."""
        out: list[str] = []
        for proc in [*self.gateways, *self.receivers, self.sender()]:
            what = proc.supervise()
            if what is not None:
                out.append(f"{proc.name} {what}; restarted by the harness")
        return out

    # -- paths and URLs ------------------------------------------------------------
    def _prov(self) -> Provisioned:
        if self.provisioned is None:
            raise RuntimeError("the stack is not started")
        return self.provisioned

    def _redis(self) -> RedisServer:
        if self.redis is None:
            raise RuntimeError("the stack is not started")
        return self.redis

    @property
    def plain_url(self) -> str:
        """The server's URL without credentials (agents log in with their credential file)."""
        return f"redis://127.0.0.1:{self._redis().port}/0"

    def receiver_journal(self, instance: str) -> Path:
        """Journal of one receiver instance (kept across its restarts)."""
        return self.work / "journals" / f"receiver-{instance}.jsonl"

    @property
    def sender_journal(self) -> Path:
        """Journal of the sender (kept across its restarts)."""
        return self.work / "journals" / "sender.jsonl"

    # -- observing -----------------------------------------------------------------
    def admin(self) -> redis.Redis:
        """A short-lived administrator connection (close it)."""
        return connect_redis_sync(self._redis().url, socket_timeout=5, socket_connect_timeout=2)

    def gateway_consumers(self, gateway_id: str) -> list[dict[str, Any]]:
        """The outbox group's consumers of one gateway process (any of its starts)."""
        with self.admin() as client:
            consumers = _consumers(client, keys.agent_outbox(BULK_SENDER), keys.GATEWAY_GROUP)
        prefix = f"{gateway_id}-"
        return [c for c in consumers if str(c["name"].decode()).startswith(prefix)]

    def gateway_reading(self, gateway_id: str) -> bool:
        """True when one of the gateway's consumers read the outboxes a moment ago."""
        limit = max(2000, 5 * self.config.block_ms)
        try:
            return any(int(c["idle"]) < limit for c in self.gateway_consumers(gateway_id))
        except RedisError:
            return False

    def receiver_started_since(self, instance: str, since: float) -> dict[str, Any] | None:
        """The instance's newest start record written at or after `since`, if any."""
        found = None
        for record in read_journal(self.receiver_journal(instance)):
            if record.get("event") == "started" and float(record["t"]) >= since:
                found = record
        return found

    def wait_ready(self, timeout: float) -> None:
        """Wait until every gateway reads the outboxes and every receiver instance started."""
        since = min((e.at for e in self.events if e.what == "started"), default=time.time())
        for gateway in self.gateways:
            wait_for(
                lambda g=gateway: self._alive(g) and self.gateway_reading(g.name),
                timeout,
                f"{gateway.name} to read the outboxes",
            )
        for receiver in self.receivers:
            instance = receiver.name.removeprefix("receiver-")
            wait_for(
                lambda r=receiver, i=instance: (
                    self._alive(r) and self.receiver_started_since(i, since) is not None
                ),
                timeout,
                f"{receiver.name} to start",
            )
        wait_for(
            lambda: self._alive(self.sender()) and self._started(self.sender_journal, since),
            timeout,
            "the sender to start",
        )

    @staticmethod
    def _started(journal: Path, since: float) -> bool:
        return any(
            r.get("event") == "started" and float(r["t"]) >= since for r in read_journal(journal)
        )

    def _alive(self, proc: ManagedProcess) -> bool:
        if proc.running():
            return True
        raise RuntimeError(f"{proc.name} exited with code {proc.exit_code()}:\n{proc.log_tail()}")

    def inbox_consumer_of(self, instance: str) -> str | None:
        """The consumer name the instance's newest start uses in the inbox group."""
        record = self.receiver_started_since(instance, 0.0)
        return str(record["consumer"]) if record and "consumer" in record else None

    def pending_of(self, stream: str, group: str, consumer_prefix: str) -> int:
        """Entries pending on consumers whose name starts with `consumer_prefix`."""
        with self.admin() as client:
            consumers = _consumers(client, stream, group)
        return sum(
            int(c["pending"]) for c in consumers if c["name"].decode().startswith(consumer_prefix)
        )


__all__ += ["BULK_RECEIVER", "BULK_SENDER"]
