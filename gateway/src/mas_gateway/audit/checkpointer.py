"""The background task that extends the Merkle tree and signs checkpoints.

Every `every_n` new entries or `every_s` seconds (whichever comes first, and only when
there is something new), one gateway process takes the lock, reads the entries after
the last checkpoint, extends the tree from the stored frontier and appends a signed
checkpoint. Several gateways may run one each: the lock keeps them from doing the
work twice, and WATCH on the shard's checkpoint stream guarantees that two of them can never
both append a successor of the same checkpoint, even if a lock expired mid-way.

Before extending, the latest checkpoint's signature is verified and its stored frontier
must hash to its signed root; the stream counters must show no deletion. Otherwise
nothing is signed (fail closed) and `AuditIntegrityError` says why.

Each ingress shard's log is its own tree with its own checkpoints and lock, so every
step (lock, WATCH, read, sign) stays in one Redis Cluster slot; a round extends every
shard that grew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, WatchError

from mas import crypto, keys
from mas.errors import SignatureError
from mas.redis_text import as_text
from mas.replication import ReplicaFence

from ..lua import load_script
from .checkpoint import Checkpoint, SignedCheckpoint, StoredCheckpoint, sign_checkpoint
from .counters import counter_problems, read_counters
from .errors import AuditError, AuditFormatError, AuditIntegrityError
from .log import entry_bytes
from .merkle import CompactRange, leaf_hash
from .streams import stream_entries
from .witness import WitnessFile

__all__ = ["AuditCheckpointer"]

log = logging.getLogger(__name__)

_MAX_BLOCK_MS = 250
"""Longest blocking read: bounds how long `stop` waits, and stays under socket timeouts."""

_STOP_TIMEOUT_S = 5.0

_SHARDS = range(keys.INGRESS_SHARDS)


@dataclass(frozen=True)
class _Head:
    """The tree as of the latest checkpoint."""

    seq: int
    last_id: str | None
    frontier: CompactRange
    digest: str | None
    signed: SignedCheckpoint | None = None


class AuditCheckpointer:
    """Extends the audit tree incrementally and appends signed checkpoints."""

    def __init__(
        self,
        redis: aioredis.Redis,
        signing_key: Ed25519PrivateKey,
        *,
        every_n: int = 1000,
        every_s: float = 5.0,
        gateway_id: str,
        max_batch: int = 10_000,
        lock_ttl_s: float = 60.0,
        witness: WitnessFile | None = None,
        replica_fence: ReplicaFence | None = None,
        block_ms: int = _MAX_BLOCK_MS,
    ) -> None:
        if every_n < 1 or every_s <= 0 or max_batch < 1 or lock_ttl_s <= 0 or block_ms < 1:
            raise ValueError(
                "every_n, every_s, max_batch, lock_ttl_s and block_ms must be positive"
            )
        self._client = redis
        self._key = signing_key
        self.key_id = crypto.key_id(signing_key)
        self.gateway_id = gateway_id
        self.every_n = every_n
        self.every_s = every_s
        self.max_batch = max_batch
        self.lock_ttl_s = lock_ttl_s
        self.block_ms = min(block_ms, _MAX_BLOCK_MS)
        """Longest blocking read of the log (at most 250 ms): how long `stop` may wait."""
        self._release = redis.register_script(load_script("release_lock"))
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[int, tuple[int, str | None]] = {}
        """Per shard, (seq, digest) of the newest checkpoint seen here: it never goes back."""
        self._witnesses: dict[int, WitnessFile] = {}
        self._replica_fence = replica_fence
        """With `commit_replicas`: a checkpoint counts as written once replicas hold it."""
        for shard in range(keys.INGRESS_SHARDS):
            if witness is None:
                break
            self._witnesses[shard] = shard_witness = witness.for_shard(shard)
            if (kept := shard_witness.load()) is not None:
                self._seen[shard] = (kept.checkpoint.seq, kept.digest())
        self._stopping = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Publish the public key, catch up on the backlog, and run in the background."""
        if self._task is not None:
            return
        await self._client.hset(keys.GATEWAY_KEYS, self.key_id, crypto.public_key_to_b64(self._key))
        cursor = {keys.audit_log(s): await self._last_entry_id(s) for s in _SHARDS}
        self._stopping.clear()
        self._task = asyncio.create_task(
            self._run(cursor), name=f"audit-checkpointer-{self.key_id}"
        )

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The background task, while running."""
        return self._task

    async def stop(self) -> None:
        """Stop the background task, then checkpoint what is left (best effort)."""
        task, self._task = self._task, None
        if task is None:
            return
        # The loop notices within one short blocking read; cancelling a task blocked in a
        # Redis read is not reliable across client versions, so it is only the fallback.
        self._stopping.set()
        try:
            await asyncio.wait_for(task, timeout=_STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("audit checkpointer did not stop in time; cancelled it")
        # Do not wait for a lock held elsewhere: its holder (or, if it died, the next
        # checkpointer once the lock expires) covers these entries; stopping must be prompt.
        await self._checkpoint_logged(wait=False)

    # -- work --------------------------------------------------------------------
    async def checkpoint_now(
        self, *, wait: bool = True, shard: int | None = None
    ) -> SignedCheckpoint | None:
        """Cover every entry appended so far in every shard (or one); return the newest
        checkpoint signed here.

        Returns None when there was nothing new (or, with ``wait=False``, when another
        process holds the lock). Raises `AuditIntegrityError` when a shard's log does not
        verify against its latest checkpoint; the other shards are extended first.
        """
        latest: SignedCheckpoint | None = None
        failures: list[str] = []
        for one in _SHARDS if shard is None else (shard,):
            try:
                latest = await self._checkpoint_shard(one, wait=wait) or latest
            except AuditIntegrityError as exc:
                failures.append(f"shard {one}: {exc}")
        if failures:
            raise AuditIntegrityError("; ".join(failures))
        return latest

    async def _checkpoint_shard(self, shard: int, *, wait: bool) -> SignedCheckpoint | None:
        """`checkpoint_now` for one shard."""
        token = await self._acquire(shard, wait=wait)
        if token is None:
            return None
        try:
            latest: SignedCheckpoint | None = None
            conflicts = 0
            while True:
                try:
                    signed, more = await self._extend_once(shard)
                except WatchError as exc:
                    conflicts += 1
                    if conflicts > 10:
                        raise AuditError("audit checkpoint kept conflicting with a writer") from exc
                    continue
                latest = signed or latest
                if not more:
                    return latest
        finally:
            await self._release(keys=[keys.audit_checkpoint_lock(shard)], args=[token])

    async def _acquire(self, shard: int, *, wait: bool) -> str | None:
        """Take the lock; with `wait`, poll until the holder is done (bounded by its TTL)."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_ttl_s
        ttl_ms = int(self.lock_ttl_s * 1000)
        while True:
            if await self._client.set(keys.audit_checkpoint_lock(shard), token, nx=True, px=ttl_ms):
                return token
            if not wait:
                return None
            if time.monotonic() > deadline:
                raise AuditError("the audit checkpoint lock stayed taken; is a checkpointer stuck?")
            await asyncio.sleep(0.02)

    async def _extend_once(self, shard: int) -> tuple[SignedCheckpoint | None, bool]:
        """Sign one checkpoint over at most `max_batch` new entries; say if more remain."""
        problems = counter_problems(await read_counters(self._client, shard=shard))
        if problems:
            raise AuditIntegrityError("; ".join(problems))
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(keys.audit_checkpoints(shard))
            head = await self._head(pipe, shard)
            start = f"({head.last_id}" if head.last_id else "-"
            reply = await pipe.xrange(keys.audit_log(shard), min=start, count=self.max_batch)
            batch = stream_entries(reply)
            if not batch:
                return None, False
            frontier = head.frontier.copy()
            leaves: list[bytes] = []
            for _stream_id, fields in batch:
                leaf = leaf_hash(entry_bytes(fields))
                frontier.append(leaf)
                leaves.append(leaf)
            checkpoint = Checkpoint(
                seq=head.seq + 1,
                tree_size=frontier.size,
                root=frontier.root(),
                prev=head.digest,
                last_id=batch[-1][0],
                time=time.time(),
                gateway_id=self.gateway_id,
                key_id=self.key_id,
                shard=shard,
            )
            signed = sign_checkpoint(checkpoint, self._key)
            stored = StoredCheckpoint("", signed, frontier.pack(), b"".join(leaves))
            pipe.multi()
            pipe.xadd(keys.audit_checkpoints(shard), stored.fields())  # pyright: ignore[reportArgumentType]
            await pipe.execute()
        if self._replica_fence is not None:
            # Neither remembered nor witnessed before a replica has it: a failover must
            # not take back a checkpoint this gateway already vouched for.
            await self._replica_fence.wait()
        self._seen[shard] = (checkpoint.seq, signed.digest())
        if (witness := self._witnesses.get(shard)) is not None:
            witness.save(signed)
        log.debug(
            "audit checkpoint %d of shard %d: %d entries",
            checkpoint.seq,
            shard,
            checkpoint.tree_size,
        )
        return signed, len(batch) == self.max_batch

    async def _head(self, pipe: Pipeline, shard: int) -> _Head:
        """The shard's latest checkpoint, verified and no older than the last one seen here."""
        head = await self._latest_head(pipe, shard)
        seen_seq, seen_digest = self._seen.get(shard, (-1, None))
        if head.seq < seen_seq or (head.seq == seen_seq and head.digest != seen_digest):
            raise AuditIntegrityError(
                f"the audit checkpoints of shard {shard} went back from #{seen_seq} to "
                f"#{head.seq} while this gateway ran: signed checkpoints were removed or replaced"
            )
        self._seen[shard] = (head.seq, head.digest)
        if (witness := self._witnesses.get(shard)) is not None and head.signed is not None:
            witness.save(head.signed)
        return head

    async def _latest_head(self, pipe: Pipeline, shard: int) -> _Head:
        """The shard's latest checkpoint, verified; the empty tree when there is none yet."""
        latest = stream_entries(await pipe.xrevrange(keys.audit_checkpoints(shard), count=1))
        if not latest:
            if await pipe.llen(keys.audit_archive(shard)):
                raise AuditIntegrityError("the audit log has archived segments but no checkpoint")
            return _Head(seq=-1, last_id=None, frontier=CompactRange(), digest=None)
        stream_id, fields = latest[0]
        try:
            stored = StoredCheckpoint.from_fields(stream_id, fields)
            checkpoint = stored.checkpoint
            stored.signed.verify({checkpoint.key_id: await self._public_key(checkpoint.key_id)})
            frontier = CompactRange.unpack(checkpoint.tree_size, stored.frontier)
        except (AuditFormatError, SignatureError, ValueError) as exc:
            raise AuditIntegrityError(f"the latest audit checkpoint is not valid: {exc}") from exc
        if frontier.root() != checkpoint.root:
            raise AuditIntegrityError(
                f"the stored frontier of checkpoint #{checkpoint.seq} "
                "does not match its signed root"
            )
        return _Head(
            checkpoint.seq, checkpoint.last_id, frontier, stored.signed.digest(), stored.signed
        )

    async def _public_key(self, key_id: str) -> Ed25519PublicKey:
        """The public key of `key_id`: ours, or one published by another gateway."""
        if key_id == self.key_id:
            return self._key.public_key()
        published = await self._client.hget(keys.GATEWAY_KEYS, key_id)
        if published is None:
            raise SignatureError(f"key {key_id!r} is not published in {keys.GATEWAY_KEYS}")
        key = crypto.load_public_key(published)
        if crypto.key_id(key) != key_id:
            raise SignatureError(f"published key for {key_id!r} has another id")
        return key

    # -- background loop ---------------------------------------------------------
    async def _checkpoint_logged(self, *, wait: bool) -> None:
        """`checkpoint_now`, logging instead of raising (the loop must keep running)."""
        try:
            await self.checkpoint_now(wait=wait)
        except AuditIntegrityError as exc:
            log.error("audit log integrity check failed, no checkpoint signed: %s", exc)
        except (AuditError, RedisError) as exc:
            log.warning("audit checkpoint failed: %s", exc)

    async def _last_entry_id(self, shard: int) -> str:
        """Id of the shard's newest entry (or 0-0), where counting new entries starts."""
        newest = stream_entries(await self._client.xrevrange(keys.audit_log(shard), count=1))
        return newest[0][0] if newest else "0-0"

    async def _run(self, cursor: dict[str, str]) -> None:
        """Catch up, then wait for `every_n` entries after `cursor` (per shard log) or
        `every_s` seconds.

        One blocking read over every shard's log: on one node that is one command; a
        cluster client would need one read per slot (not built yet).
        """
        await self._checkpoint_logged(wait=False)
        pending = 0
        deadline = time.monotonic() + self.every_s
        while not self._stopping.is_set():
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            remaining_ms = min(max(1, remaining_ms), self.block_ms)
            try:
                reply = await self._client.xread(
                    cursor,  # pyright: ignore[reportArgumentType]
                    count=self.every_n,
                    block=remaining_ms,
                )
            except RedisError as exc:
                log.warning("audit checkpointer cannot read the log: %s", exc)
                reply = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), min(self.every_s, 1.0))
            for stream, raw_entries in reply or []:  # pyright: ignore[reportUnknownVariableType]
                entries = stream_entries(raw_entries)
                if entries:
                    cursor[as_text(stream)] = entries[-1][0]  # pyright: ignore[reportUnknownArgumentType, reportArgumentType]
                    pending += len(entries)
            now = time.monotonic()
            if pending >= self.every_n or (now >= deadline and pending):
                await self._checkpoint_logged(wait=False)
                pending = 0
                deadline = time.monotonic() + self.every_s
            elif now >= deadline:
                deadline = now + self.every_s
