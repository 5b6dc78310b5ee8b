"""CircuitKeeper: evaluates every target's circuit each poll and releases parked messages.

Each poll reads, in one round trip for all provisioned agents: the circuit hash,
the parked queue's length, the health counters the agent reports, its heartbeat
and registry status, and its inbox length. The state machine (`state.step`) gives
the new state, written with compare-and-set (`circuit_update.lua`), so several
gateways evaluating the same circuit never undo each other. Once a circuit is not
open, parked deliveries are moved oldest first into the inbox by
`circuit_release.lua`, which moves an entry only while it is the oldest (safe with
concurrent gateways) and audits each one as ``released``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mas import keys
from mas.envelope import AGENT_ID_PATTERN, decode_fields
from mas.outage import is_transient
from mas.records import Status
from mas.redis_text import as_text

from ..audit.entry import build_released_entry
from ..delivery import PARKED_META_FIELD
from ..logsafe import log_failure
from ..lua import load_script
from ..policy import PolicySet, PolicyStore
from ..policy.circuits import CircuitSpec
from .state import Circuit, Observation, step

__all__ = ["CircuitKeeper", "CircuitView", "read_circuits"]

log = logging.getLogger(__name__)

DEFAULT_RELEASE_BATCH = 100
"""Entries moved per step for a target that has parked entries but no circuit settings."""
MAX_BATCHES_PER_POLL = 20
"""A closed circuit's queue drains at most this many batches per poll (others get a turn)."""


@dataclass(frozen=True)
class CircuitView:
    """What `mas circuit list` shows of one target."""

    agent_id: str
    circuit: Circuit
    parked: int

    def summary(self) -> dict[str, Any]:
        """JSON-ready: state, since, reason, counts, parked depth."""
        c = self.circuit
        return {
            "agent_id": self.agent_id,
            "state": c.state,
            "since": c.since,
            "reason": c.reason,
            "trips": c.trips,
            "consecutive_failures": c.consecutive,
            "window_calls": c.window_calls,
            "window_failures": c.window_failures,
            "probes": c.probes,
            "released": c.released,
            "parked": self.parked,
        }


async def read_circuits(client: aioredis.Redis) -> list[CircuitView]:
    """Every provisioned agent that has a circuit record or parked deliveries."""
    agents = sorted(as_text(m) for m in await client.smembers(keys.ALL_AGENTS))  # type: ignore[misc]
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in agents:
            pipe.hgetall(keys.circuit(agent_id))
            pipe.xlen(keys.agent_parked(agent_id))
        replies = await pipe.execute()
    views = []
    for i, agent_id in enumerate(agents):
        raw, parked = replies[2 * i], int(replies[2 * i + 1])
        if raw or parked:
            views.append(CircuitView(agent_id, Circuit.from_hash(raw), parked))
    return views


def _int(value: Any) -> int:
    try:
        return max(0, int(as_text(value))) if value is not None else 0
    except ValueError:
        return 0  # an agent writes its own counters: nonsense (or a negative) counts as nothing


class CircuitKeeper:
    """The gateway task that keeps circuits and releases parked messages."""

    def __init__(
        self,
        client: aioredis.Redis,
        store: PolicyStore,
        *,
        gateway_id: str,
        key_id: str,
        poll_s: float,
    ) -> None:
        self._client = client
        self._store = store
        self._gateway_id = gateway_id
        self._key_id = key_id
        self._poll_s = poll_s
        self._update = client.register_script(load_script("circuit_update"))
        self._release = client.register_script(load_script("circuit_release"))
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Begin polling in the background."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="gateway-circuits")

    async def stop(self) -> None:
        """Stop polling (a release in progress is atomic: it happened or it did not)."""
        task, self._task = self._task, None
        self._stopping.set()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll_s)
            if self._stopping.is_set():
                return
            try:
                await self.poll()
            except RedisError as exc:
                log.warning("Redis error while keeping circuits (%s); will retry", exc)
            except Exception:
                log_failure(log, "keeping circuits failed; will retry")

    async def poll(self) -> None:
        """One evaluation of every circuit, then the releases it allows."""
        policy = self._store.current
        agents = sorted(as_text(m) for m in await self._client.smembers(keys.ALL_AGENTS))  # type: ignore[misc]
        if not agents:
            return
        seconds, micros = await self._client.time()
        now = seconds + micros / 1e6
        async with self._client.pipeline(transaction=False) as pipe:
            for agent_id in agents:
                pipe.hgetall(keys.circuit(agent_id))
                pipe.xlen(keys.agent_parked(agent_id))
                pipe.hmget(keys.agent_health(agent_id), ["ok", "failed", "dead"])
                pipe.exists(keys.agent_heartbeat(agent_id))
                pipe.hget(keys.agent_record(agent_id), "status")
                pipe.xlen(keys.agent_stream(agent_id))
            replies = await pipe.execute(raise_on_error=False)
        for i, agent_id in enumerate(agents):
            raw, parked, health, beat, status, backlog = replies[6 * i : 6 * i + 6]
            if any(isinstance(r, Exception) for r in (raw, parked, health, beat, status, backlog)):
                continue  # one agent's broken record never stops the others' circuits
            ok, failed, dead = (_int(v) for v in health)
            obs = Observation(
                ok=ok,
                failed=failed + dead,
                live=bool(beat) and status is not None and as_text(status) == Status.ACTIVE,
                backlog=int(backlog),
                parked=int(parked),
            )
            try:
                await self._keep(agent_id, Circuit.from_hash(raw), obs, policy, now)
            except Exception as exc:  # one agent's failed update never stops the others'
                if not is_transient(exc):
                    log_failure(log, "keeping the circuit of %s failed", agent_id)
                else:
                    log.warning("keeping the circuit of %s: Redis unavailable", agent_id)

    async def _keep(
        self, agent_id: str, circuit: Circuit, obs: Observation, policy: PolicySet, now: float
    ) -> None:
        spec = policy.circuit_for(agent_id)
        if spec is None and not circuit.stored() and not obs.parked:
            return
        if spec is None and not obs.parked:  # settings removed and nothing left: forget it
            await self._update(keys=[keys.circuit(agent_id)], args=[circuit.rev, "delete"])
            return
        new = step(circuit, spec, obs, now)
        if replace(new, rev="") != replace(circuit, rev="") or not circuit.stored():
            flat = [v for pair in new.to_fields().items() for v in pair]
            written = await self._update(
                keys=[keys.circuit(agent_id)], args=[circuit.rev, "set", *flat]
            )
            if not written:
                return  # another gateway changed it first; its state counts
            _log_transition(agent_id, circuit, new)
        if new.state != "open" and obs.parked:
            await self._drain(agent_id, new, spec, policy)

    async def _drain(
        self, agent_id: str, circuit: Circuit, spec: CircuitSpec | None, policy: PolicySet
    ) -> None:
        batch = spec.release_batch if spec is not None else DEFAULT_RELEASE_BATCH
        probes = spec.half_open_probes if spec is not None else 0
        if circuit.state == "half_open":
            batch = min(batch, max(0, probes - circuit.probes))
        rounds = 1 if circuit.state == "half_open" else MAX_BATCHES_PER_POLL
        for _ in range(rounds):
            if batch <= 0:
                return
            moved = await self.release(agent_id, batch, probes=probes, policy=policy)
            if moved:
                log.info("released %d parked message(s) to %s", moved, agent_id)
            if moved < batch:
                return

    async def release(self, agent_id: str, count: int, *, probes: int, policy: PolicySet) -> int:
        """Move up to `count` of the oldest parked entries into the inbox; the number moved."""
        entries = await self._client.xrange(keys.agent_parked(agent_id), "-", "+", count=count)
        if not entries:
            return 0
        seconds, micros = await self._client.time()
        now = seconds + micros / 1e6
        moved = 0
        for shard, run in _runs_by_shard([self._audit(f, policy, now) for _, f in entries]):
            args: list[bytes | str | int] = [probes, PARKED_META_FIELD]
            for index, entry in run:
                args += [entries[index][0], entry]
            done = int(
                await self._release(
                    keys=[
                        keys.agent_parked(agent_id),
                        keys.agent_stream(agent_id),
                        keys.circuit(agent_id),
                        keys.audit_log(shard),
                    ],
                    args=args,
                )
            )
            moved += done
            if done < len(run):
                break
        return moved

    def _audit(self, fields: Any, policy: PolicySet, now: float) -> tuple[int, bytes]:
        """The audit shard (the original sender's) and the ``released`` entry of one."""
        stored = decode_fields(fields or {})
        delivered = _json_object(stored.get("envelope", b""))
        meta = _json_object(stored.get(PARKED_META_FIELD, b""))
        sender = delivered.get("sender_id")
        valid = isinstance(sender, str) and re.fullmatch(AGENT_ID_PATTERN, sender) is not None
        shard = keys.audit_shard(sender if valid else None)  # pyright: ignore[reportArgumentType]
        return shard, build_released_entry(
            delivered,
            meta,
            gateway_id=self._gateway_id,
            key_id=self._key_id,
            policy_version=policy.version,
            now=now,
        )


def _runs_by_shard(
    audited: list[tuple[int, bytes]],
) -> list[tuple[int, list[tuple[int, bytes]]]]:
    """Consecutive entries of one audit shard, in order: each run is one release call (its
    audit log is one key), and the queue still moves oldest first."""
    runs: list[tuple[int, list[tuple[int, bytes]]]] = []
    for index, (shard, entry) in enumerate(audited):
        if not runs or runs[-1][0] != shard:
            runs.append((shard, []))
        runs[-1][1].append((index, entry))
    return runs


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def _log_transition(agent_id: str, old: Circuit, new: Circuit) -> None:
    if old.state == new.state:
        return
    if new.state == "open":
        log.warning("circuit of %s opened: %s", agent_id, new.reason)
    else:
        log.info("circuit of %s is %s (was %s)", agent_id, new.state.replace("_", "-"), old.state)
