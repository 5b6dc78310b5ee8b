"""Every Redis key, stream, group and channel name MAS uses, in one place.

The README's key table must list every name here; `tests/test_docs.py` checks it.
"""

from __future__ import annotations

__all__ = [
    "AGENTS_GROUP",
    "ALL_AGENTS",
    "AUDIT_ARCHIVE",
    "AUDIT_CHECKPOINTS",
    "AUDIT_CHECKPOINT_LOCK",
    "AUDIT_MESSAGES",
    "DLQ",
    "GATEWAY_GROUP",
    "GATEWAY_INGRESS",
    "GATEWAY_KEYS",
    "POLICY_RELOAD_CHANNEL",
    "POLICY_VERSIONS",
    "SYSTEM_CHANNEL",
    "agent_done",
    "agent_errors",
    "agent_handling",
    "agent_heartbeat",
    "agent_instance",
    "agent_instances",
    "agent_pending_request",
    "agent_record",
    "agent_replies_channel",
    "agent_state",
    "agent_stream",
    "capability_index",
    "nonce",
    "rate_limit_bucket",
]

# --- registry -------------------------------------------------------------
ALL_AGENTS = "mas.agents"
"""Set of every registered agent id (active or not)."""

SYSTEM_CHANNEL = "mas.system"
"""Pub/sub channel for REGISTER / DEREGISTER / status events."""


def agent_record(agent_id: str) -> str:
    """Hash: capabilities, metadata, status, registered_at, token_hash, public_key, ..."""
    return f"agent:{agent_id}"


def agent_heartbeat(agent_id: str) -> str:
    """String with a TTL: the agent is alive while it exists."""
    return f"agent:{agent_id}:heartbeat"


def agent_instances(agent_id: str) -> str:
    """Set of instance ids currently running this agent id."""
    return f"agent:{agent_id}:instances"


def agent_instance(agent_id: str, instance_id: str) -> str:
    """String with a TTL: one instance of the agent is alive while it exists."""
    return f"agent:{agent_id}:instance:{instance_id}"


def capability_index(capability: str) -> str:
    """Set of agent ids that declare a capability."""
    return f"mas.capability:{capability}"


# --- state ----------------------------------------------------------------
def agent_state(agent_id: str) -> str:
    """Hash of the agent's persisted state, one JSON-encoded value per field."""
    return f"agent.state:{agent_id}"


# --- delivery -------------------------------------------------------------
AGENTS_GROUP = "agents"
"""Consumer group every instance of an agent reads its stream with."""


def agent_stream(agent_id: str) -> str:
    """Stream of gateway-signed deliveries to one agent."""
    return f"agent.stream:{agent_id}"


def agent_done(agent_id: str, message_id: str) -> str:
    """String with a TTL: this message_id was handled (dedup marker)."""
    return f"agent.done:{agent_id}:{message_id}"


def agent_handling(agent_id: str, message_id: str) -> str:
    """String with a TTL: an instance is handling this message_id right now (a lease)."""
    return f"agent.handling:{agent_id}:{message_id}"


def agent_errors(agent_id: str) -> str:
    """Hash stream-entry-id -> last handler error, for dead-lettering."""
    return f"agent.errors:{agent_id}"


def agent_replies_channel(agent_id: str) -> str:
    """Pub/sub channel that forwards replies between instances of one agent."""
    return f"agent.replies:{agent_id}"


def agent_pending_request(agent_id: str, correlation_id: str) -> str:
    """String with a TTL: the instance of the agent waiting for this request's reply."""
    return f"agent.pending:{agent_id}:{correlation_id}"


DLQ = "mas.dlq"
"""Stream of dead letters, each with its reason."""

# --- gateway --------------------------------------------------------------
GATEWAY_INGRESS = "mas.gateway.ingress"
"""Stream of signed submissions from agents."""

GATEWAY_GROUP = "gateway"
"""Consumer group every gateway process reads the ingress with."""

GATEWAY_KEYS = "mas.gateway.keys"
"""Hash key_id -> base64 Ed25519 public key of each gateway signing key."""

POLICY_RELOAD_CHANNEL = "mas.policy.reload"
"""Pub/sub channel that tells every gateway process to reload policies."""

POLICY_VERSIONS = "mas.policy.versions"
"""Stream: one entry each time a gateway puts a policy version in force (compliance history)."""


def nonce(agent_id: str, value: str) -> str:
    """String with a TTL: a submission nonce already seen (replay protection)."""
    return f"mas.nonce:{agent_id}:{value}"


def rate_limit_bucket(agent_id: str) -> str:
    """Hash: token bucket of one agent (tokens, last refill time)."""
    return f"mas.ratelimit:{agent_id}"


# --- audit ----------------------------------------------------------------
AUDIT_MESSAGES = "audit:messages"
"""Stream: the audit log, one entry per gateway decision."""

AUDIT_CHECKPOINTS = "audit:checkpoints"
"""Stream: signed checkpoints (tree size, root hash) over the audit log."""

AUDIT_CHECKPOINT_LOCK = "audit:checkpoint:lock"
"""String with a TTL: held by the one gateway process extending the tree right now."""

AUDIT_ARCHIVE = "audit:archive"
"""List of JSON records, one per archived segment of the audit log, oldest first."""
