"""End-to-end throughput A → B through the gateway, in separate processes.

The sender, the receiver and each gateway are separate OS processes, as in a
deployment. The baseline, in the same run and on the same Redis, moves the same
messages between two processes over a plain Redis stream with no gateway, no
signatures and no checks: the ratio shows what the security pipeline costs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mas.redis_connect import connect_redis_sync

from ..embedded_redis import redis_url_or_embedded
from ..principals import setup_principals
from ..settings import default_policies_dir
from ..signing import write_signing_key
from .policies import bulk_policies
from .worker import RAW_GROUP, RAW_STREAM

__all__ = ["ThroughputResult", "run_throughput"]

WORKER = [sys.executable, "-m", "mas_gateway.benchmarks.worker"]


@dataclass(frozen=True)
class ThroughputResult:
    """Messages per second with the gateway and over a plain stream."""

    count: int
    gateways: int
    gateway_msgs_per_s: float
    baseline_msgs_per_s: float

    @property
    def ratio(self) -> float:
        """Gateway throughput as a fraction of the plain-stream baseline."""
        return self.gateway_msgs_per_s / self.baseline_msgs_per_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "messages": self.count,
            "gateway_processes": self.gateways,
            "gateway_msgs_per_s": round(self.gateway_msgs_per_s, 1),
            "baseline_msgs_per_s": round(self.baseline_msgs_per_s, 1),
            "ratio_to_baseline": round(self.ratio, 3),
        }


def _last_json(stream: IO[str]) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for line in stream:
        if line.startswith("{"):
            last = json.loads(line)
    return last


def _pair(receive: list[str], send: list[str], timeout: float) -> float:
    """Run receiver then sender; messages per second from first send to last receipt."""
    receiver = subprocess.Popen(receive, stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        ready = receiver.stdout.readline()
        if '"ready"' not in ready:
            raise RuntimeError("benchmark receiver did not start")
        sender = subprocess.run(send, capture_output=True, text=True, timeout=timeout, check=True)
        sent = json.loads(sender.stdout.strip().splitlines()[-1])
        received = _last_json(receiver.stdout)
        receiver.wait(timeout=timeout)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
        if receiver.stdout is not None:
            receiver.stdout.close()
    elapsed = float(received["finished_at"]) - float(sent["started_at"])
    return int(sent["sent"]) / elapsed


def _start_gateway(url: str, policies: Path, key: Path, index: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MAS_GATEWAY_ID": f"bench-{index}"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mas_gateway.cli",
            "gateway",
            "--redis-url",
            url,
            "--policies",
            str(policies),
            "--signing-key",
            str(key),
            "--auto-provision",
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def run_throughput(
    *, count: int = 5000, size: int = 64, gateways: int = 1, redis_url: str | None = None
) -> ThroughputResult:
    """Measure both paths; uses an embedded Redis unless `redis_url` is given."""
    timeout = max(120.0, count / 50)
    with redis_url_or_embedded(redis_url) as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        common = ["--redis-url", url, "--count", str(count), "--size", str(size)]
        client = connect_redis_sync(url)
        try:
            client.delete(RAW_STREAM)
            client.xgroup_create(RAW_STREAM, RAW_GROUP, id="0", mkstream=True)
        finally:
            client.close()
        baseline = _pair([*WORKER, "raw-receive", *common], [*WORKER, "raw-send", *common], timeout)

        policies = bulk_policies(default_policies_dir(), work / "policies")
        key = work / "gateway.key"
        write_signing_key(key)
        gateway_url, _service_url = setup_principals(url)
        procs = [_start_gateway(gateway_url, policies, key, i) for i in range(gateways)]
        try:
            agent = [*common, "--credentials-dir", str(work / "credentials")]
            through_gateway = _pair(
                [*WORKER, "receive", *agent], [*WORKER, "send", *agent], timeout
            )
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return ThroughputResult(count, gateways, through_gateway, baseline)
