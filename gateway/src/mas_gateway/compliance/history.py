"""Policy version history: one stream entry each time a gateway puts a policy version in force.

Each entry of ``mas.policy.versions`` holds the version hash, the time, the gateway id
and every policy file with its SHA-256, so an auditor can tell which rules were in
force when, and match a decision's ``policy_version`` in the audit log to the files.

A gateway records its version at start and after every reload::

    recorder = PolicyHistoryRecorder(client, gateway_id)
    await recorder.record(store.current)
    store.add_listener(recorder.listener)
    ...
    await recorder.aclose()
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from mas import keys
from mas.redis_text import as_text

from ..audit.streams import stream_entries
from ..policy import PolicySet

__all__ = [
    "PolicyFile",
    "PolicyHistoryRecorder",
    "PolicyVersionRecord",
    "read_policy_versions",
    "record_policy_version",
]

log = logging.getLogger(__name__)

_CHUNK = 1000


@dataclass(frozen=True)
class PolicyFile:
    """One file of a policy version: its path relative to the policies directory."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class PolicyVersionRecord:
    """A policy version put in force by one gateway at one time."""

    stream_id: str
    version: str
    time: float
    gateway_id: str
    files: tuple[PolicyFile, ...]

    def to_json(self) -> dict[str, Any]:
        """As a JSON object (the report's policy history)."""
        return {
            "stream_id": self.stream_id,
            "version": self.version,
            "time": self.time,
            "gateway_id": self.gateway_id,
            "files": [item.to_json() for item in self.files],
        }


def _files(files: Mapping[str, bytes]) -> list[PolicyFile]:
    return [
        PolicyFile(name, hashlib.sha256(data).hexdigest(), len(data))
        for name, data in sorted(files.items())
    ]


async def record_policy_version(
    client: aioredis.Redis, policy_set: PolicySet, gateway_id: str
) -> str:
    """Append the version now in force at `gateway_id` to the history; return the stream id."""
    if not gateway_id:
        raise ValueError("gateway_id must not be empty")
    files = [item.to_json() for item in _files(policy_set.files)]
    fields = {
        "version": policy_set.version,
        "time": repr(time.time()),
        "gateway_id": gateway_id,
        "files": json.dumps(files, separators=(",", ":"), sort_keys=True),
    }
    stream_id = await client.xadd(keys.POLICY_VERSIONS, fields)  # type: ignore[arg-type]
    return as_text(stream_id)


def _parse(stream_id: str, fields: Mapping[str, bytes]) -> PolicyVersionRecord:
    """One stream entry as a record; ValueError naming the problem when malformed."""
    try:
        version = fields["version"].decode("ascii")
        when = float(fields["time"])
        gateway_id = fields["gateway_id"].decode("utf-8")
        listed = json.loads(fields["files"])
    except (KeyError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"entry {stream_id} is malformed ({type(exc).__name__}: {exc})") from exc
    if len(version) != 64 or any(c not in "0123456789abcdef" for c in version):
        raise ValueError(f"entry {stream_id} has a version that is not a SHA-256 hex digest")
    if not isinstance(listed, list):
        raise ValueError(f"entry {stream_id}: 'files' is not a JSON list")
    files: list[PolicyFile] = []
    for item in listed:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, dict):
            raise ValueError(f"entry {stream_id}: a file record is not an object")
        try:
            files.append(PolicyFile(str(item["path"]), str(item["sha256"]), int(item["size"])))  # pyright: ignore[reportUnknownArgumentType]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"entry {stream_id}: a file record lacks {exc}") from exc
    return PolicyVersionRecord(stream_id, version, when, gateway_id, tuple(files))


async def read_policy_versions(
    client: aioredis.Redis,
) -> tuple[list[PolicyVersionRecord], list[str]]:
    """Every recorded version, oldest first, and a problem line per malformed entry."""
    records: list[PolicyVersionRecord] = []
    problems: list[str] = []
    start = "-"
    while True:
        reply = await client.xrange(keys.POLICY_VERSIONS, min=start, max="+", count=_CHUNK)
        batch = stream_entries(reply)
        for stream_id, fields in batch:
            try:
                records.append(_parse(stream_id, fields))
            except ValueError as exc:
                problems.append(f"{keys.POLICY_VERSIONS}: {exc}")
            start = f"({stream_id}"
        if len(batch) < _CHUNK:
            return records, problems


class PolicyHistoryRecorder:
    """Records every version a `PolicyStore` puts in force; `listener` fits `add_listener`.

    Create it inside the gateway's event loop. The store calls listeners synchronously,
    so `listener` schedules the write on that loop; `aclose` waits for pending writes.
    A failed write is logged as an error: the compliance report then flags decisions
    made under a version missing from the history.
    """

    def __init__(self, client: aioredis.Redis, gateway_id: str) -> None:
        if not gateway_id:
            raise ValueError("gateway_id must not be empty")
        self._client = client
        self.gateway_id = gateway_id
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()

    async def record(self, policy_set: PolicySet) -> str:
        """Record `policy_set` as in force now; return the history entry's stream id."""
        return await record_policy_version(self._client, policy_set, self.gateway_id)

    def listener(self, policy_set: PolicySet) -> None:
        """`PolicyStore` listener: schedule recording the new version (from any thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._spawn(policy_set)
        else:
            self._loop.call_soon_threadsafe(self._spawn, policy_set)

    def _spawn(self, policy_set: PolicySet) -> None:
        task = self._loop.create_task(self._record_logged(policy_set))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_logged(self, policy_set: PolicySet) -> None:
        try:
            await self.record(policy_set)
        except Exception:
            log.exception(
                "could not record policy version %s in %s",
                policy_set.version[:12],
                keys.POLICY_VERSIONS,
            )

    async def aclose(self) -> None:
        """Wait until every scheduled write finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks)
