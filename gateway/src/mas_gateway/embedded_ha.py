"""Throw-away multi-node Redis set-ups: a Sentinel-managed primary with replicas, and a cluster.

Built for the test suite (and, later, ``mas demo``) from the same binary as
`EmbeddedRedis`: every node listens on 127.0.0.1 on a free port, keeps its files
in a temporary directory, and runs with ACLs as in production. Data nodes share
one ACL file: the default user off, the administrator ``mas-admin``, a
replication user (``masteruser``/``masterauth``) and the user the sentinels
monitor with (``sentinel auth-user``/``auth-pass``). Sentinels have their own
users: an administrator (also the one sentinels talk to each other with) and a
read-only ``mas-sentinel-client`` that may only ask where the primary is, which is
what every MAS process connects to them with.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import redis
from redis.exceptions import RedisError

from mas.errors import ConfigError

from .embedded_redis import ADMIN_USER, find_server_binary, free_port

__all__ = ["SENTINEL_CLIENT_USER", "SERVICE_NAME", "EmbeddedCluster", "EmbeddedSentinel"]

SERVICE_NAME = "mas"
"""The Sentinel service name of an `EmbeddedSentinel`."""
SENTINEL_CLIENT_USER = "mas-sentinel-client"
"""The sentinels' read-only user: where is the primary, who are the replicas."""
_REPLICATION_USER = "mas-replication"
_MONITOR_USER = "mas-sentinel-monitor"
_SENTINEL_ADMIN = "mas-sentinel-admin"

_REPLICATION_RULES = "+psync +replconf +ping"
_MONITOR_RULES = (
    "allchannels +multi +slaveof +replicaof +ping +exec +subscribe +config|rewrite +role "
    "+publish +info +client|setname +client|kill +script|kill"
)
_SENTINEL_CLIENT_RULES = (
    "-@all +ping +hello +auth +client|setinfo +client|setname +sentinel|masters "
    "+sentinel|master +sentinel|replicas +sentinel|slaves +sentinel|sentinels "
    "+sentinel|get-master-addr-by-name"
)


def _user(name: str, password: str, rules: str) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user {name} on #{digest} {rules}"


class _Node:
    """One server process, from a config file in its own directory."""

    def __init__(self, binary: str, directory: Path, port: int, config: str, *extra: str) -> None:
        self.port = port
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "node.conf"
        conf.write_text(config, encoding="utf-8")
        conf.chmod(0o600)
        self._proc = subprocess.Popen(
            [binary, str(conf), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=directory,
        )

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def log_tail(self) -> str:
        log = self.directory / "node.log"
        lines = log.read_text(errors="replace").splitlines()[-5:] if log.is_file() else []
        return " | ".join(lines)

    def kill(self) -> None:
        """SIGKILL: no snapshot, no goodbye to replicas or sentinels."""
        if self.alive:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()

    def stop(self) -> None:
        if self.alive:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


def _wait(check: Callable[[], bool], what: str, timeout: float, nodes: list[_Node]) -> None:
    """Poll `check()` (another process changes the state: there is no event) until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [n for n in nodes if not n.alive]
        if dead:
            raise ConfigError(f"Redis node on port {dead[0].port} exited: {dead[0].log_tail()}")
        with contextlib.suppress(RedisError, OSError):
            if check():
                return
        time.sleep(0.05)
    raise ConfigError(f"Redis set-up not ready within {timeout} s: {what}")


class _Deployment:
    """What both set-ups share: a binary, a temporary directory, passwords, node processes."""

    def __init__(self, binary: str | None) -> None:
        self.binary = binary or find_server_binary()
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._nodes: list[_Node] = []
        self.admin_password = secrets.token_urlsafe(24)
        self._replication_password = secrets.token_urlsafe(24)
        self._monitor_password = secrets.token_urlsafe(24)

    @property
    def root(self) -> Path:
        assert self._dir is not None, "not started"
        return Path(self._dir.name)

    def _data_acl(self) -> str:
        return "\n".join(
            [
                "user default off resetchannels -@all",
                _user(ADMIN_USER, self.admin_password, "~* &* +@all"),
                _user(_REPLICATION_USER, self._replication_password, _REPLICATION_RULES),
                _user(_MONITOR_USER, self._monitor_password, _MONITOR_RULES),
                "",
            ]
        )

    def _data_config(self, port: int, directory: Path, *extra: str) -> str:
        acl = directory / "users.acl"
        directory.mkdir(parents=True, exist_ok=True)
        acl.write_text(self._data_acl(), encoding="utf-8")
        acl.chmod(0o600)
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            'save ""',
            "appendonly no",
            f"dir {directory}",
            "logfile node.log",
            "loglevel warning",
            f"aclfile {acl}",
            "proto-max-bulk-len 4mb",
            # A replica's full sync starts at once: Redis would wait five seconds for
            # more replicas to share one diskless transfer.
            "repl-diskless-sync-delay 0",
            f"masteruser {_REPLICATION_USER}",
            f"masterauth {self._replication_password}",
            *extra,
        ]
        return "\n".join(lines) + "\n"

    def _admin(self, port: int, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            username=ADMIN_USER,
            password=self.admin_password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def _start_dir(self, prefix: str) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix=prefix)

    def stop(self) -> None:
        """Stop every node and remove the directory."""
        for node in self._nodes:
            node.stop()
        self._nodes = []
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


class EmbeddedSentinel(_Deployment):
    """A primary, `replicas` replicas and `sentinels` sentinels watching service ``mas``.

    `url` is the ``redis+sentinel://`` URL of the administrator. Failure detection is
    quick (`down_after_ms`), so that tests can kill the primary and see a failover.
    """

    def __init__(
        self,
        *,
        replicas: int = 2,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        binary: str | None = None,
    ) -> None:
        super().__init__(binary)
        self.replicas = replicas
        self.sentinel_count = sentinels
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.data_ports = [free_port() for _ in range(1 + replicas)]
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self._sentinel_admin_password = secrets.token_urlsafe(24)
        self.sentinel_client_password = secrets.token_urlsafe(24)
        self._data: dict[int, _Node] = {}

    @property
    def url(self) -> str:
        """``redis+sentinel://`` URL authenticating as the administrator."""
        nodes = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        query = (
            f"sentinel_username={SENTINEL_CLIENT_USER}"
            f"&sentinel_password={quote(self.sentinel_client_password, safe='')}"
        )
        return f"redis+sentinel://{ADMIN_USER}:{self.admin_password}@{nodes}/{SERVICE_NAME}?{query}"

    def _sentinel_config(
        self, port: int, directory: Path, primary: int, replicas: list[int]
    ) -> str:
        quorum = self.sentinel_count // 2 + 1
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {directory}",
            "logfile node.log",
            "loglevel notice",
            "user default off resetchannels -@all",
            _user(_SENTINEL_ADMIN, self._sentinel_admin_password, "~* &* +@all"),
            _user(SENTINEL_CLIENT_USER, self.sentinel_client_password, _SENTINEL_CLIENT_RULES),
            f"sentinel sentinel-user {_SENTINEL_ADMIN}",
            f"sentinel sentinel-pass {self._sentinel_admin_password}",
            f"sentinel monitor {SERVICE_NAME} 127.0.0.1 {primary} {quorum}",
            f"sentinel down-after-milliseconds {SERVICE_NAME} {self.down_after_ms}",
            f"sentinel failover-timeout {SERVICE_NAME} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {SERVICE_NAME} 1",
            # Known from the start: a sentinel that asked the primary before its replicas
            # connected would learn of them only at its next INFO, ten seconds later.
            *(f"sentinel known-replica {SERVICE_NAME} 127.0.0.1 {p}" for p in replicas),
            f"sentinel auth-user {SERVICE_NAME} {_MONITOR_USER}",
            f"sentinel auth-pass {SERVICE_NAME} {self._monitor_password}",
        ]
        return "\n".join(lines) + "\n"

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=port,
            username=SENTINEL_CLIENT_USER,
            password=self.sentinel_client_password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )

    def start(self, timeout: float = 30.0) -> str:
        """Start every node, wait until sentinels see the primary, its replicas and each other."""
        self._start_dir("mas-sentinel-")
        primary, *replicas = self.data_ports
        for i, port in enumerate(self.data_ports):
            directory = self.root / f"data-{i}"
            extra = [f"replicaof 127.0.0.1 {primary}"] if port != primary else []
            node = _Node(self.binary, directory, port, self._data_config(port, directory, *extra))
            self._data[port] = node
            self._nodes.append(node)
        for i, port in enumerate(self.sentinel_ports):
            directory = self.root / f"sentinel-{i}"
            directory.mkdir()
            config = self._sentinel_config(port, directory, primary, replicas)
            self._nodes.append(_Node(self.binary, directory, port, config, "--sentinel"))
        try:
            _wait(
                lambda: all(self._replica_linked(p) for p in replicas),
                "replicas in sync",
                timeout,
                self._nodes,
            )
            _wait(self._sentinels_agree, "sentinels watching", timeout, self._nodes)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _replica_linked(self, port: int) -> bool:
        with self._admin(port) as client:
            info = client.info("replication")
        return info.get("master_link_status") == "up"

    def _sentinels_agree(self, primary: int | None = None) -> bool:
        want = primary or self.data_ports[0]
        for port in self.sentinel_ports:
            with self._sentinel(port) as sentinel:
                state = cast(dict[str, Any], sentinel.sentinel_master(SERVICE_NAME))
            if int(state["port"]) != want or "s_down" in str(state.get("flags", "")):
                return False
            if int(state["num-other-sentinels"]) < self.sentinel_count - 1:
                return False
            if int(state["num-slaves"]) < self.replicas:
                return False
        return True

    def _primary_per(self, port: int) -> int:
        with self._sentinel(port) as sentinel:
            address = cast(tuple[str, int], sentinel.sentinel_get_master_addr_by_name(SERVICE_NAME))
        return int(address[1])

    def primary_port(self) -> int:
        """The port the first answering sentinel names as the primary."""
        for port in self.sentinel_ports:
            with contextlib.suppress(RedisError):
                return self._primary_per(port)
        raise ConfigError("no sentinel answers")

    def kill_primary(self) -> int:
        """SIGKILL the current primary; returns its port."""
        port = self.primary_port()
        self.kill(port)
        return port

    def kill(self, port: int) -> None:
        """SIGKILL the data node on `port`."""
        self._data[port].kill()

    def wait_failover(self, old: int, timeout: float = 60.0) -> int:
        """Wait until every sentinel names a live replica as primary; returns its port."""
        promoted: list[int] = []

        def done() -> bool:
            port = self.primary_port()
            if port == old or not self._data[port].alive:
                return False
            with self._admin(port) as client:
                if client.info("replication").get("role") != "master":
                    return False
            promoted[:] = [port]
            return all(self._primary_per(p) == port for p in self.sentinel_ports)

        _wait(done, f"a replica promoted after port {old} was killed", timeout, [])
        return promoted[0]

    def node_admin(self, port: int) -> redis.Redis:
        """An administrator client on one data node (close it)."""
        return self._admin(port)

    def __enter__(self) -> EmbeddedSentinel:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedCluster(_Deployment):
    """A Redis Cluster of `masters` primaries (no replicas), slots split evenly.

    Formed from Python (``CLUSTER MEET``, ``CLUSTER ADDSLOTSRANGE``), since
    ``redis-cli --cluster create`` is not always installed. `url` is the
    ``redis+cluster://`` URL of the administrator.
    """

    SLOTS = 16384

    def __init__(self, *, masters: int = 3, binary: str | None = None) -> None:
        super().__init__(binary)
        self.ports = [free_port() for _ in range(masters)]
        self.bus_ports = [free_port() for _ in range(masters)]
        """Cluster bus ports, chosen too: port + 10000 may be taken or out of range."""

    @property
    def url(self) -> str:
        """``redis+cluster://`` URL authenticating as the administrator."""
        nodes = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        return f"redis+cluster://{ADMIN_USER}:{self.admin_password}@{nodes}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the nodes, join them, assign the slots, wait until the cluster is ok."""
        self._start_dir("mas-cluster-")
        for i, port in enumerate(self.ports):
            directory = self.root / f"node-{i}"
            config = self._data_config(
                port,
                directory,
                "cluster-enabled yes",
                f"cluster-port {self.bus_ports[i]}",
                "cluster-config-file nodes.conf",
                "cluster-node-timeout 2000",
                "cluster-require-full-coverage yes",
            )
            self._nodes.append(_Node(self.binary, directory, port, config))
        try:
            _wait(lambda: all(self._pings(p) for p in self.ports), "nodes up", timeout, self._nodes)
            self._form()
            _wait(self._ok, "cluster_state ok on every node", timeout, self._nodes)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _pings(self, port: int) -> bool:
        with self._admin(port) as client:
            return bool(client.ping())

    def _form(self) -> None:
        first, *others = self.ports
        share = self.SLOTS // len(self.ports)
        for i, port in enumerate(self.ports):
            low = i * share
            high = self.SLOTS - 1 if i == len(self.ports) - 1 else low + share - 1
            with self._admin(port) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        with self._admin(first) as client:
            for port, bus in zip(others, self.bus_ports[1:], strict=True):
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)

    def _ok(self) -> bool:
        for port in self.ports:
            with self._admin(port) as client:
                info = client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            if (
                "cluster_state:ok" not in text
                or f"cluster_known_nodes:{len(self.ports)}" not in text
            ):
                return False
        return True

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
