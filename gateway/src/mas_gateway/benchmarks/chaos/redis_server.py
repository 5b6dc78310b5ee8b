"""A real Redis server the chaos harness can kill, freeze and restart on the same port and data.

Unlike `mas_gateway.embedded_redis`, the server keeps an append-only file (AOF) in a
data directory that outlives the process, and its administrator password stays the
same across restarts, so what Redis persisted (data, ACL users) is what comes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Literal

from redis.exceptions import RedisError

from mas.redis_connect import connect_redis_sync

from ...embedded_redis import ADMIN_USER, find_server_binary, free_port
from .procs import die_with_parent

__all__ = ["AppendFsync", "RedisServer"]

AppendFsync = Literal["always", "everysec"]


class RedisServer:
    """One redis-server (or valkey-server) child with AOF and ACLs on, as in production mode."""

    def __init__(self, data_dir: Path, *, appendfsync: AppendFsync = "always") -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.binary = find_server_binary()
        self.appendfsync: AppendFsync = appendfsync
        self._password = secrets.token_urlsafe(24)
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        """redis:// URL of the administrator (the operator's user)."""
        return f"redis://{ADMIN_USER}:{self._password}@127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, if any."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _write_acl_file(self) -> Path:
        """The ACL file: on first start the admin alone; later what ``ACL SAVE`` wrote."""
        path = self.data_dir / "users.acl"
        if not path.is_file():
            digest = hashlib.sha256(self._password.encode()).hexdigest()
            lines = [
                "user default off resetchannels -@all",
                f"user {ADMIN_USER} on #{digest} ~* &* +@all",
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            path.chmod(0o600)
        return path

    def start(self, timeout: float = 30.0) -> None:
        """Start (or start again) on the same port and data directory; wait for PING."""
        if self.pid is not None:
            raise RuntimeError("the Redis server is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        acl_file = self._write_acl_file()
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", str(self.log_path.resolve()),
            "--aclfile", str(acl_file.resolve()),
            "--proto-max-bulk-len", "4mb",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = " ".join(self._log_tail())
                raise RuntimeError(f"Redis exited at start (code {self._proc.returncode}): {tail}")
            if self.answers():
                return
            time.sleep(0.02)
        raise RuntimeError(f"Redis on port {self.port} did not answer within {timeout} s")

    def _log_tail(self) -> list[str]:
        if not self.log_path.is_file():
            return []
        return self.log_path.read_text(errors="replace").splitlines()[-3:]

    def answers(self) -> bool:
        """True when the server answers PING as the administrator (and has loaded its data)."""
        try:
            with connect_redis_sync(self.url, socket_timeout=0.5, socket_connect_timeout=0.5) as c:
                return bool(c.ping())
        except RedisError:
            return False

    def set_appendfsync(self, policy: AppendFsync) -> None:
        """Change the fsync policy of the running server (and of its next starts)."""
        self.appendfsync = policy
        with connect_redis_sync(self.url, socket_timeout=10) as client:
            client.config_set("appendfsync", policy)

    def send_signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the server process."""
        if self._proc is None:
            raise RuntimeError("the Redis server is not running")
        self._proc.send_signal(sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Stop with `sig` (SIGTERM: Redis flushes the AOF first; SIGKILL: nothing) and reap it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a frozen server could not act on SIGTERM
                proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None

    def close(self) -> None:
        """Kill the server for good (cleanup)."""
        self.stop(signal.SIGKILL)
