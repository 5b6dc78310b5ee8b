"""Authentication: token, Ed25519 signature over the exact envelope bytes, replay window.

A submission is accepted only when, for the sender named in its envelope:
the registry holds a record that is not revoked; the presented token hashes to
the stored hash; the signature verifies with the registered public key; the
timestamp is within the replay window of the gateway clock; and its nonce was
never seen before (the nonce is bound to the outbox entry, so a gateway that
takes over a crashed peer's entry can process it again without calling it a replay).
The nonce key holds a digest of the nonce, never the nonce: DLP has not scanned it yet.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from redis.asyncio.client import Pipeline

from mas import crypto, keys
from mas.errors import SignatureError, Unauthenticated

from ..agent_records import AgentRecord, queue_records
from ..context import MessageContext
from .base import Batch, Decode, look_up

__all__ = ["AuthenticationStage", "nonce_digest"]


def nonce_digest(nonce: str) -> str:
    """The part of the nonce key that stands for the nonce (128 bits of its SHA-256)."""
    return hashlib.sha256(nonce.encode("utf-8")).hexdigest()[:32]


class AuthenticationStage:
    """Authenticates every submission of a batch with two Redis round trips."""

    name = "authn"

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        replay_window_s: float,
        auto_provision: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self._window = replay_window_s
        self._auto_provision = auto_provision
        self._clock = clock

    def queue_reads(self, contexts: Sequence[MessageContext], pipe: Pipeline) -> Decode:
        """Queue the reads of the records of the outboxes' owners."""
        return queue_records(pipe, {ctx.origin for ctx in contexts})

    async def prepare(self, batch: Batch[None]) -> dict[int, Unauthenticated]:
        """Authenticate the whole batch: the error of each refused context, by `id(ctx)`."""
        records: dict[str, AgentRecord] = await look_up(self, batch)
        keys_: dict[str, Ed25519PublicKey | None] = {}  # parsed once per batch, never kept
        errors: dict[int, Unauthenticated] = {}
        passed: list[MessageContext] = []
        for ctx in batch.contexts:
            error = self._verify(ctx, records.get(ctx.origin), keys_)
            if error is None:
                passed.append(ctx)
            else:
                errors[id(ctx)] = error
        if passed:
            errors.update(await self._claim_nonces(passed))
        return errors

    def _verify(
        self,
        ctx: MessageContext,
        record: AgentRecord | None,
        parsed_keys: dict[str, Ed25519PublicKey | None],
    ) -> Unauthenticated | None:
        envelope = ctx.envelope
        assert envelope is not None, "authentication runs after parsing"
        mid = envelope.message_id
        if envelope.sender_id != ctx.origin:
            return Unauthenticated(
                f"a submission in the outbox of {ctx.origin!r} claims to come from "
                f"{envelope.sender_id!r}",
                message_id=mid,
            )
        if record is None or not record.public_key:
            return Unauthenticated(f"unknown agent {envelope.sender_id!r}", message_id=mid)
        trust = record.trust
        if trust.revoked or not trust.token_hash:
            return Unauthenticated("agent credentials are revoked", message_id=mid)
        if not trust.operator_provisioned and not self._auto_provision:
            return Unauthenticated(
                "agent credentials were issued by a development auto-provisioning, which "
                "this gateway does not accept; an operator must run `mas agent provision`",
                message_id=mid,
            )
        token = ctx.fields["token"].decode("utf-8", "replace")
        if not crypto.token_matches(token, trust.token_hash):
            return Unauthenticated("invalid token", message_id=mid)
        public_key = _public_key(record.public_key, parsed_keys)
        try:
            if public_key is None:
                raise SignatureError("the registered public key is invalid")
            crypto.verify(public_key, ctx.raw_envelope, ctx.fields["signature"])
        except SignatureError:
            return Unauthenticated("signature does not verify", message_id=mid)
        skew = abs(self._clock() - envelope.timestamp)
        if not math.isfinite(skew):  # parsing refuses these; never trust a NaN comparison
            return Unauthenticated("timestamp is not a finite number", message_id=mid)
        if not skew <= self._window:
            return Unauthenticated(
                f"timestamp is {skew:.0f} s from the gateway clock; "
                f"the replay window is {self._window:.0f} s",
                message_id=mid,
            )
        ctx.sender_trust = trust
        return None

    async def _claim_nonces(self, batch: Sequence[MessageContext]) -> dict[int, Unauthenticated]:
        ttl = max(1, int(self._window * 2))
        async with self.client.pipeline(transaction=False) as pipe:
            for ctx in batch:
                assert ctx.envelope is not None
                pipe.set(
                    keys.nonce(ctx.envelope.sender_id, nonce_digest(ctx.envelope.nonce)),
                    ctx.entry_id,
                    nx=True,
                    ex=ttl,
                    get=True,
                )
            previous = await pipe.execute()
        return {
            id(ctx): Unauthenticated(
                "replayed submission: this nonce was already used", message_id=ctx.message_id
            )
            for ctx, prior in zip(batch, previous, strict=True)
            if prior is not None and prior.decode() != ctx.entry_id
        }

    async def check(self, ctx: MessageContext, batch: Batch[dict[int, Unauthenticated]]) -> None:
        """Raise the `Unauthenticated` found for this context, if any."""
        error = batch.prepared.get(id(ctx))
        if error is not None:
            raise error


def _public_key(
    encoded: str, parsed: dict[str, Ed25519PublicKey | None]
) -> Ed25519PublicKey | None:
    """The decoded key, parsed once per batch however many messages its agent sent."""
    if encoded not in parsed:
        try:
            parsed[encoded] = crypto.load_public_key(encoded)
        except SignatureError:
            parsed[encoded] = None
    return parsed[encoded]
