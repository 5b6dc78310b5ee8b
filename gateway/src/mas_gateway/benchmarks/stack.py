"""The gateway benchmark's stack: provisioned agents and gateway processes on one Redis.

Agents are provisioned by the operator code path (`mas.provisioning.provision_agent`),
senders with `BENCH_ROLE`, with the gateway's key pinned in their credential files.
Gateways run as ``mas gateway`` processes in production mode (no auto-provisioning),
each as its own Redis user; one is ready when its presence record appears.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mas import keys
from mas.credentials import Credentials
from mas.provisioning import provision_agent
from mas.redis_connect import connect_redis, connect_redis_sync
from mas.redis_text import as_text

from ..presence import PresenceRecord
from ..principals import setup_principals
from ..settings import default_policies_dir
from ..signing import write_signing_key
from .chaos.procs import die_with_parent
from .children import BenchError, log_tail
from .policies import BENCH_ROLE, bench_policies
from .procstats import CpuSample, redis_sample, tree_sample

__all__ = ["BenchStack", "GatewayProcess"]

PROVISION_AT_ONCE = 16
STOP_TIMEOUT_S = 30.0


@dataclass
class GatewayProcess:
    """One ``mas gateway`` child."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    launched_at: float

    def sample(self) -> CpuSample | None:
        """CPU so far and peak RSS of the gateway and its DLP worker processes."""
        return tree_sample(self.proc.pid)

    def failure(self, what: str) -> BenchError:
        """An error naming this gateway, with the end of its log."""
        tail = log_tail(self.log_path)
        return BenchError(
            f"{self.name} {what}" + (f"; its last output:\n    {tail}" if tail else "")
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


class BenchStack:
    """Agents and gateways of one benchmark run; `close()` stops every gateway."""

    def __init__(self, admin_url: str, work: Path) -> None:
        self.admin_url = admin_url
        self.work = work
        self.credentials_dir = work / "credentials"
        self.key = write_signing_key(work / "gateway.key")
        self.gateway_url, _service_url = setup_principals(admin_url)
        self.admin = connect_redis_sync(admin_url, socket_timeout=30)
        self.provisioned: set[str] = set()
        self.gateways: list[GatewayProcess] = []
        self.policy_rules: int | None = None
        self._policies: dict[int, Path] = {}

    # --- agents --------------------------------------------------------------------

    def provision(self, agent_ids: list[str], *, sender: bool) -> None:
        """Issue credential files for the agents not provisioned yet."""
        todo = [a for a in agent_ids if a not in self.provisioned]
        if todo:
            asyncio.run(self._provision(todo, [BENCH_ROLE] if sender else []))
            self.provisioned.update(todo)

    async def _provision(self, agent_ids: list[str], roles: list[str]) -> None:
        admin = connect_redis(self.admin_url, socket_timeout=30)
        gate = asyncio.Semaphore(PROVISION_AT_ONCE)
        pinned = {self.key.key_id: self.key.public_key_b64}

        async def one(agent_id: str) -> None:
            async with gate:
                issued = await provision_agent(admin, agent_id, roles)
            Credentials.from_issued(issued, pinned).save(self.credentials_dir / f"{agent_id}.json")

        try:
            await asyncio.gather(*(one(a) for a in agent_ids))
        finally:
            await admin.aclose()

    def registered(self) -> int:
        """Agents provisioned on this Redis (every one has an outbox the gateways read)."""
        return int(self.admin.scard(keys.ALL_AGENTS))  # type: ignore[arg-type]

    # --- gateways ------------------------------------------------------------------

    def _policy_dir(self, rules: int) -> Path:
        if rules not in self._policies:
            target = self.work / f"policies-{rules}"
            self._policies[rules] = bench_policies(
                default_policies_dir(), target, extra_rules=rules
            )
        return self._policies[rules]

    def use_gateways(self, count: int, policy_rules: int, timeout_s: float) -> None:
        """Have exactly `count` gateways running with the policy of `policy_rules` extra rules."""
        if self.policy_rules != policy_rules:
            self.stop_gateways()
            self.policy_rules = policy_rules
        while len(self.gateways) > count:
            self.gateways.pop().stop()
        started = [self._launch(i) for i in range(len(self.gateways), count)]
        self.gateways.extend(started)
        for gateway in started:
            self._wait_ready(gateway, timeout_s)

    def _launch(self, index: int) -> GatewayProcess:
        name = f"gateway-{index}"
        log_path = self.work / f"{name}.log"
        argv = [
            sys.executable, "-m", "mas_gateway.cli", "gateway",
            "--policies", str(self._policy_dir(self.policy_rules or 0)),
            "--signing-key", str(self.work / "gateway.key"),
            "--log-level", "WARNING",
        ]  # fmt: skip
        # The URL carries the gateway user's password: in the environment, not in `ps`.
        env = {**os.environ, "MAS_GATEWAY_ID": f"bench-{index}", "MAS_REDIS_URL": self.gateway_url}
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                argv, env=env, stdout=log, stderr=log, preexec_fn=die_with_parent
            )
        return GatewayProcess(name, proc, log_path, time.time())

    def _wait_ready(self, gateway: GatewayProcess, timeout_s: float) -> None:
        """Until the gateway published its presence (it then consumes); `BenchError` if not."""
        gateway_id = f"bench-{gateway.name.rsplit('-', 1)[1]}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = gateway.proc.poll()
            if code is not None:
                raise gateway.failure(f"exited with code {code} while starting")
            raw = self.admin.hgetall(keys.GATEWAY_PRESENCE)
            for consumer, text in raw.items():  # type: ignore[union-attr]
                record = PresenceRecord.from_json(as_text(consumer), as_text(text))
                if (
                    record is not None
                    and record.gateway_id == gateway_id
                    and record.started_at >= gateway.launched_at - 1
                ):
                    return
            time.sleep(0.2)  # polling another process's state: no event to await
        raise gateway.failure(f"was not ready within {timeout_s:.0f} s")

    def check_gateways(self) -> None:
        """`BenchError` when a gateway has exited."""
        for gateway in self.gateways:
            code = gateway.proc.poll()
            if code is not None:
                raise gateway.failure(f"exited with code {code}")

    def gateway_samples(self) -> list[CpuSample | None]:
        """CPU so far of each running gateway (with its DLP workers), in order."""
        return [g.sample() for g in self.gateways]

    def redis_sample(self) -> CpuSample:
        """CPU so far of the Redis server."""
        info = {**self.admin.info("cpu"), **self.admin.info("server")}  # type: ignore[dict-item]
        return redis_sample(info)

    def stop_gateways(self) -> None:
        """Stop every gateway."""
        while self.gateways:
            self.gateways.pop().stop()

    def close(self) -> None:
        """Stop the gateways and close the admin connection."""
        try:
            self.stop_gateways()
        finally:
            self.admin.close()
