"""Every Redis key, stream, group and channel name MAS uses, in one place.

Keys by owner: every key that belongs to one agent carries the agent id as a
Redis Cluster hash tag (``{id}``), so all of an agent's keys live in one slot and
one ACL pattern follows the same boundary (`mas.acl` builds the rules from the
functions here). Agent ids cannot contain ``{``, ``}``, ``:`` or glob characters
(see `mas.envelope.AGENT_ID_PATTERN`), so ``agent:{a}`` never matches a pattern
meant for ``agent:{a.b}``. Outboxes and forwarded markers are the exception: they
carry the sender's ingress shard tag (``{shard:N}``, see `ingress_shard`) so that
the gateway reads and commits a whole shard within one slot. The only key of an
agent that ends with ``}`` is its profile ``agent:{id}``; ACL patterns rely on that.

The README's key table must list every name here; `tests/test_docs.py` checks it.
"""

from __future__ import annotations

import zlib

__all__ = [
    "AGENTS_GROUP",
    "ALL_AGENTS",
    "AUDIT_GATEWAY_SHARD",
    "DLQ",
    "GATEWAY_GROUP",
    "GATEWAY_KEYS",
    "GATEWAY_PRESENCE",
    "INGRESS_SHARDS",
    "OUTBOX_PREFIX",
    "POLICY_RELOAD_CHANNEL",
    "POLICY_VERSIONS",
    "SYSTEM_CHANNEL",
    "agent_dlq",
    "agent_done",
    "agent_errors",
    "agent_events_channel",
    "agent_handling",
    "agent_health",
    "agent_heartbeat",
    "agent_identity",
    "agent_instance",
    "agent_instances",
    "agent_outbox",
    "agent_parked",
    "agent_pending_request",
    "agent_record",
    "agent_replies_channel",
    "agent_state",
    "agent_stream",
    "agent_trust",
    "audit_archive",
    "audit_checkpoint_lock",
    "audit_checkpoints",
    "audit_log",
    "audit_shard",
    "circuit",
    "forwarded",
    "ingress_shard",
    "nonce",
    "rate_limit_bucket",
    "replica_fence",
    "shard_tag",
    "tag",
]


def tag(agent_id: str) -> str:
    """The hash tag of everything `agent_id` owns."""
    return f"{{{agent_id}}}"


# --- shards ---------------------------------------------------------------
INGRESS_SHARDS = 16
"""How many ingress shards the submissions and the audit log are split into.

Fixed for every deployment, single node or cluster, so that every process (agents
and gateways) names the same keys; changing it re-homes every outbox.
"""


def ingress_shard(agent_id: str) -> int:
    """The ingress shard of `agent_id`: where its submissions, and their audit entries, go."""
    return zlib.crc32(agent_id.encode()) % INGRESS_SHARDS


def shard_tag(shard: int) -> str:
    """The hash tag of one ingress shard; no agent's tag can equal it (ids have no ``:``)."""
    if not 0 <= shard < INGRESS_SHARDS:
        raise ValueError(f"ingress shard {shard} is not in 0..{INGRESS_SHARDS - 1}")
    return f"{{shard:{shard}}}"


# --- registry -------------------------------------------------------------
ALL_AGENTS = "mas.agents"
"""Set of every provisioned agent id; written by the operator only."""

SYSTEM_CHANNEL = "mas.system"
"""Pub/sub channel for REGISTER / DEREGISTER / STATUS events, published by the MAS service."""


def agent_record(agent_id: str) -> str:
    """Hash the agent writes about itself: capabilities, metadata, status, registered_at."""
    return f"agent:{tag(agent_id)}"


def agent_identity(agent_id: str) -> str:
    """Hash the operator writes, readable by all agents: public_key, key_id."""
    return f"agent:{tag(agent_id)}:identity"


def agent_trust(agent_id: str) -> str:
    """Hash the operator writes, read by the gateway only: token hash, roles, revocation."""
    return f"agent:{tag(agent_id)}:trust"


def agent_heartbeat(agent_id: str) -> str:
    """String with a TTL: the agent is alive while it exists."""
    return f"agent:{tag(agent_id)}:heartbeat"


def agent_instances(agent_id: str) -> str:
    """Set of instance ids currently running this agent id."""
    return f"agent:{tag(agent_id)}:instances"


def agent_instance(agent_id: str, instance_id: str) -> str:
    """String with a TTL: one instance of the agent is alive while it exists."""
    return f"agent:{tag(agent_id)}:instance:{instance_id}"


def agent_events_channel(agent_id: str) -> str:
    """Pub/sub channel only this agent may publish on: its REGISTER / DEREGISTER events."""
    return f"agent.events:{tag(agent_id)}"


# --- state ----------------------------------------------------------------
def agent_state(agent_id: str) -> str:
    """Hash of the agent's persisted state, one JSON-encoded value per field."""
    return f"agent.state:{tag(agent_id)}"


# --- delivery -------------------------------------------------------------
AGENTS_GROUP = "agents"
"""Consumer group every instance of an agent reads its stream with."""


def agent_outbox(agent_id: str) -> str:
    """Stream of the agent's signed submissions: the agent may only append, the gateway reads.

    Tagged with the agent's ingress shard, not its own tag: all outboxes of one shard
    share a slot, so one gateway read (``XREADGROUP``) can name them all on a cluster.
    """
    return f"{OUTBOX_PREFIX}{shard_tag(ingress_shard(agent_id))}:{agent_id}"


OUTBOX_PREFIX = "agent.outbox:"
"""What every outbox key starts with (then the shard tag, ``:`` and the agent id)."""


def agent_stream(agent_id: str) -> str:
    """Stream of gateway-signed deliveries to one agent (its inbox)."""
    return f"agent.stream:{tag(agent_id)}"


def agent_parked(agent_id: str) -> str:
    """Stream of gateway-signed deliveries held back while the agent's circuit is open."""
    return f"agent.parked:{tag(agent_id)}"


def agent_dlq(agent_id: str) -> str:
    """Stream of deliveries this agent dead-lettered, each with its reason."""
    return f"agent.dlq:{tag(agent_id)}"


def agent_done(agent_id: str, message_id: str) -> str:
    """String with a TTL: this message_id was handled (dedup marker)."""
    return f"agent.done:{tag(agent_id)}:{message_id}"


def agent_handling(agent_id: str, message_id: str) -> str:
    """String with a TTL: an instance is handling this message_id right now (a lease)."""
    return f"agent.handling:{tag(agent_id)}:{message_id}"


def agent_health(agent_id: str) -> str:
    """Hash of delivery counters the agent reports about itself: ok, failed, dead."""
    return f"agent.health:{tag(agent_id)}"


def agent_errors(agent_id: str) -> str:
    """Hash stream-entry-id -> last handler error, for dead-lettering."""
    return f"agent.errors:{tag(agent_id)}"


def agent_replies_channel(agent_id: str) -> str:
    """Pub/sub channel that forwards replies between instances of one agent."""
    return f"agent.replies:{tag(agent_id)}"


def agent_pending_request(agent_id: str, correlation_id: str) -> str:
    """String with a TTL: the instance of the agent waiting for this request's reply."""
    return f"agent.pending:{tag(agent_id)}:{correlation_id}"


# --- gateway --------------------------------------------------------------
GATEWAY_GROUP = "gateway"
"""Consumer group every gateway process reads the agents' outboxes with."""

GATEWAY_KEYS = "mas.gateway.keys"
"""Hash key_id -> base64 Ed25519 public key of each gateway signing key."""

GATEWAY_PRESENCE = "mas.gateway.presence"
"""Hash gateway consumer -> JSON heartbeat record (gateway id, policy version, times)."""

DLQ = "mas.dlq"
"""Stream of the gateway's own dead letters (internal errors): metadata, never a payload."""

POLICY_RELOAD_CHANNEL = "mas.policy.reload"
"""Pub/sub channel that tells every gateway process to reload policies."""

POLICY_VERSIONS = "mas.policy.versions"
"""Stream: one entry each time a gateway puts a policy version in force (compliance history)."""


def replica_fence(consumer: str) -> str:
    """String with a TTL: written by one gateway process right before it ``WAIT``s for
    replicas, so that the wait covers every write it made before (`mas.replication`)."""
    return f"mas.fence:{consumer}"


def nonce(agent_id: str, value: str) -> str:
    """String with a TTL: a submission nonce already seen (replay protection)."""
    return f"mas.nonce:{tag(agent_id)}:{value}"


def forwarded(agent_id: str, value: str) -> str:
    """String with a TTL: a message id (digest) of this sender the gateway already forwarded.

    In the slot of the sender's outbox (its ingress shard), so the commit sets it and
    acknowledges the outbox entry in one script on a cluster too.
    """
    return f"mas.forwarded:{shard_tag(ingress_shard(agent_id))}:{agent_id}:{value}"


def rate_limit_bucket(agent_id: str) -> str:
    """Hash: token bucket of one agent (tokens, last refill time)."""
    return f"mas.ratelimit:{tag(agent_id)}"


def circuit(agent_id: str) -> str:
    """Hash: the circuit breaker of one target agent (state, counts), gateway-owned."""
    return f"mas.circuit:{tag(agent_id)}"


# --- audit ----------------------------------------------------------------
AUDIT_GATEWAY_SHARD = 0
"""The audit shard of decisions that have no sender agent (gateway-internal events)."""


def audit_shard(sender: str | None) -> int:
    """The audit shard of a decision: the sender's ingress shard, else `AUDIT_GATEWAY_SHARD`."""
    return ingress_shard(sender) if sender else AUDIT_GATEWAY_SHARD


def audit_log(shard: int) -> str:
    """Stream: the audit log of one ingress shard, one entry per gateway decision."""
    return f"audit:messages:{shard_tag(shard)}"


def audit_checkpoints(shard: int) -> str:
    """Stream: signed checkpoints (tree size, root hash) over one shard's audit log."""
    return f"audit:checkpoints:{shard_tag(shard)}"


def audit_checkpoint_lock(shard: int) -> str:
    """String with a TTL: held by the one gateway process extending that shard's tree."""
    return f"audit:checkpoint:lock:{shard_tag(shard)}"


def audit_archive(shard: int) -> str:
    """List of JSON records, one per archived segment of one shard's log, oldest first."""
    return f"audit:archive:{shard_tag(shard)}"
