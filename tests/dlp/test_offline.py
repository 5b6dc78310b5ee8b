"""The whole stage (worker processes included) runs with every network connection refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import POLICIES

GUARD = """
import socket

_LOG = {log!r}
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _record(what):
    with open(_LOG, "a", encoding="utf-8") as out:
        out.write(what + "\\n")
    raise OSError("network access is blocked in this test")


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect {{address!r}}")
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect_ex {{address!r}}")
    return _connect_ex(self, address)


def _refuse_lookup(*args, **kwargs):
    _record(f"getaddrinfo {{args[:2]!r}}")


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _refuse_lookup
"""

SCRIPT = """
import asyncio, json, socket, sys
from mas_gateway.context import MessageContext
from mas_gateway.pipeline import Pipeline
from mas_gateway.policy import load_policy_set
from mas_gateway.stages.dlp import DLPStage

PAYLOADS = [
    {"note": "Hi Dr. Raj Adams, it's Olivia Hill, mail me at olivia.hill@example.org"},
    {"ssn": "536-22-1234"},
    {"text": "Balance this equation: Fe + O2 -> Fe2O3"},
]


async def main():
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
        guarded = False
    except OSError as exc:
        guarded = "blocked" in str(exc)
    policy = load_policy_set(sys.argv[1])
    stage = DLPStage(workers=1)  # one worker process shows the pool runs offline
    await stage.start(policy)
    batch = []
    for i, data in enumerate(PAYLOADS):
        ctx = MessageContext(entry_id=f"{i}-0", fields={})
        ctx.data = data
        batch.append(ctx)
    await Pipeline([stage]).run(batch, policy)
    out = [[c.dlp_action, sorted({f.entity_type for f in c.dlp_findings})] for c in batch]
    scanner = await stage.scanner_for(policy)
    workers = scanner is not None and scanner.workers_running
    await stage.aclose()
    print(json.dumps({"guarded": guarded, "results": out, "pool": workers}))


asyncio.run(main())
"""


@pytest.mark.slow
@pytest.mark.subprocess
def test_stage_runs_offline_with_workers(tmp_path: Path) -> None:
    log = tmp_path / "network-attempts.log"
    (tmp_path / "sitecustomize.py").write_text(GUARD.format(log=str(log)), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["TLDEXTRACT_CACHE"] = str(tmp_path / "empty-cache")  # a default extractor would fetch
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(POLICIES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["guarded"] is True
    assert report["pool"] is True
    assert report["results"] == [
        ["redact", ["EMAIL_ADDRESS", "PERSON"]],
        ["block", ["US_SSN"]],
        ["allow", []],
    ]
    attempts = log.read_text(encoding="utf-8") if log.exists() else ""
    assert attempts.splitlines() == ["getaddrinfo ('127.0.0.1', 9)"]  # the self-check only
