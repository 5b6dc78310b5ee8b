"""Redis ACL rules of every MAS principal, built from the key names in `mas.keys`.

One Redis user per principal, least privilege:

- ``agent.<id>`` — one per agent: append to its own outbox, consume its own
  inbox, read and write its own profile, liveness, state and delivery ledger,
  read the discovery directory. Nothing else.
- ``mas-gateway`` — reads every outbox and the trust records, appends to
  inboxes, owns nonces, rate-limit buckets, the audit log and its dead letters.
- ``mas-service`` — the registry's health keeper: marks lapsed agents INACTIVE
  and publishes system events.
- the operator is the deployment's administrator (it creates these users).

Rules are Redis 7 selectors: each ``(patterns commands)`` group allows its
commands on its keys only, so "append to my outbox" does not also allow "read my
outbox". Redis checks the commands a script runs against the caller, and the keys
a script declares against the selector that allows the script, so principals that
run scripts list those keys in their root rules. `mas acl show` prints the rules,
`mas acl apply` applies them, and ARCHITECTURE.md documents them as a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import keys

__all__ = [
    "GATEWAY_USER",
    "PROBE_AGENT",
    "SERVICE_USER",
    "Principal",
    "Selector",
    "agent_principal",
    "agent_username",
    "forbidden_for_agent",
    "gateway_principal",
    "service_principal",
    "shard_neighbour",
]

GATEWAY_USER = "mas-gateway"
SERVICE_USER = "mas-service"
PROBE_AGENT = "mas.acl-probe"
"""An id no agent can have (ids never start with ``mas.``): stands for "another agent"."""

_CONNECTION = (
    "+ping", "+hello", "+auth", "+select", "+client|id", "+client|getname",
    "+client|setinfo", "+multi", "+exec", "+discard", "+unwatch", "+cluster|slots", "+command",
)  # fmt: skip
"""What every MAS connection needs: handshake, transactions, liveness, and on a cluster the
slot map and command table redis-py's cluster client reads (``CLUSTER SLOTS``, ``COMMAND``:
node addresses, slots and command names, nothing stored)."""

_SCRIPTS = ("+evalsha", "+eval", "+script|load", "+script|exists")


def _plus(names: str) -> tuple[str, ...]:
    """ACL words allowing each command of a space-separated list."""
    return tuple(f"+{name}" for name in names.split())


@dataclass(frozen=True)
class Selector:
    """Key and channel patterns with the commands allowed on them."""

    commands: tuple[str, ...]
    keys: tuple[str, ...] = ()
    """Patterns with their access prefix: ``~`` read-write, ``%R~`` read, ``%W~`` write."""
    channels: tuple[str, ...] = ()
    purpose: str = ""

    def rules(self) -> list[str]:
        """The ACL rule words of this selector (without parentheses)."""
        return [*self.keys, *(f"&{c}" for c in self.channels), *self.commands]


@dataclass(frozen=True)
class Principal:
    """A Redis user: root rules plus selectors."""

    username: str
    root: Selector
    selectors: tuple[Selector, ...]

    def setuser_rules(self) -> list[str]:
        """`ACL SETUSER` arguments after the user name; they keep the user's passwords."""
        words = ["on", "resetkeys", "resetchannels", "clearselectors", "-@all", *self.root.rules()]
        words.extend(f"({' '.join(['-@all', *s.rules()])})" for s in self.selectors)
        return words

    def describe(self) -> str:
        """A human-readable listing, one selector per line."""
        lines = [f"user {self.username}", f"  root: {' '.join(self.root.rules())}"]
        for selector in self.selectors:
            lines.append(f"  ({' '.join(selector.rules())})  # {selector.purpose}")
        return "\n".join(lines)


def agent_username(agent_id: str) -> str:
    """The Redis user of one agent."""
    return f"agent.{agent_id}"


_ALL = "*"


def agent_principal(agent_id: str) -> Principal:
    """Least privilege for one agent: own keys, outbox append-only, a read-only directory."""
    a = agent_id
    hashes = (keys.agent_record(a), keys.agent_state(a), keys.agent_errors(a))
    strings = (
        keys.agent_heartbeat(a),
        keys.agent_instances(a),
        keys.agent_instance(a, "*"),
        keys.agent_done(a, "*"),
        keys.agent_handling(a, "*"),
        keys.agent_pending_request(a, "*"),
    )
    directory = (
        keys.agent_record(_ALL),
        keys.agent_heartbeat(_ALL),
        keys.agent_identity(_ALL),
        keys.ALL_AGENTS,
        keys.GATEWAY_KEYS,
    )
    return Principal(
        username=agent_username(a),
        root=Selector(
            # wait: a submission can wait for replicas (`submit_replicas`); it blocks only
            # the caller's own connection and touches no key.
            commands=(*_CONNECTION, *_plus("subscribe unsubscribe wait")),
            channels=(keys.agent_replies_channel(a), keys.SYSTEM_CHANNEL),
        ),
        selectors=(
            Selector(
                purpose="its profile, state and handler errors: hashes only",
                keys=tuple(f"~{k}" for k in hashes),
                commands=_plus("hset hget hgetall hmget hdel watch"),
            ),
            Selector(
                purpose="its delivery health counters (read by the gateway's circuit breakers)",
                keys=(f"~{keys.agent_health(a)}",),
                commands=_plus("hincrby hgetall"),
            ),
            Selector(
                purpose="its state reset",
                keys=(f"~{keys.agent_state(a)}",),
                commands=_plus("del"),
            ),
            Selector(
                purpose="its liveness and delivery ledger: strings and its instance set",
                keys=tuple(f"~{k}" for k in strings),
                commands=_plus("get mget set del exists pexpire sadd srem smembers scard watch"),
            ),
            Selector(
                purpose="its inbox: consume, acknowledge, reclaim",
                keys=(f"~{keys.agent_stream(a)}",),
                commands=_plus(
                    "xreadgroup xack xdel xclaim xautoclaim xpending xinfo|groups xinfo|stream "
                    "xrange xrevrange xlen xgroup|createconsumer "
                    "xgroup|delconsumer"
                ),
            ),
            Selector(
                purpose="its outbox and its dead letters: append only",
                keys=(f"~{keys.agent_outbox(a)}", f"~{keys.agent_dlq(a)}"),
                commands=_plus("xadd"),
            ),
            Selector(
                purpose="the discovery directory: read only",
                keys=tuple(f"%R~{k}" for k in directory),
                commands=_plus("hgetall hget hmget exists get smembers sismember scard"),
            ),
            Selector(
                purpose="its reply forwarding and registry events",
                channels=(keys.agent_replies_channel(a), keys.agent_events_channel(a)),
                commands=_plus("publish"),
            ),
        ),
    )


_GATEWAY_STATE = (
    "mas.nonce:*",
    "mas.forwarded:*",
    "mas.ratelimit:*",
    keys.replica_fence(_ALL),
    keys.circuit(_ALL),
    keys.GATEWAY_KEYS,
    keys.GATEWAY_PRESENCE,
    keys.DLQ,
    keys.POLICY_VERSIONS,
    "audit:*",
)


def gateway_principal() -> Principal:
    """The gateway: reads outboxes and trust, writes inboxes, owns replay, limits and audit."""
    outbox, inbox = f"{keys.OUTBOX_PREFIX}{_ALL}", keys.agent_stream(_ALL)
    parked = keys.agent_parked(_ALL)
    scripted = (outbox, inbox, parked, *_GATEWAY_STATE)
    return Principal(
        username=GATEWAY_USER,
        root=Selector(
            commands=(
                *_CONNECTION,
                *_SCRIPTS,
                *_plus("acl|dryrun acl|whoami subscribe unsubscribe time wait"),
            ),
            keys=tuple(f"~{k}" for k in scripted),
            channels=(keys.POLICY_RELOAD_CHANNEL,),
        ),
        selectors=(
            Selector(
                purpose="every agent's outbox: consume, acknowledge, take over",
                keys=(f"~{outbox}",),
                commands=_plus(
                    "xreadgroup xack xdel xautoclaim xclaim xpending xinfo|groups xinfo|stream "
                    "xgroup|create xgroup|createconsumer xgroup|delconsumer xlen xrevrange"
                ),
            ),
            Selector(
                purpose="every agent's inbox: deliver",
                keys=(f"~{inbox}", f"~{parked}"),
                commands=_plus("xadd xlen xinfo|groups xinfo|stream"),
            ),
            Selector(
                purpose="every agent's dead letters: count only (metrics, dashboard)",
                keys=(f"%R~{keys.agent_dlq(_ALL)}",),
                commands=_plus("xlen"),
            ),
            Selector(
                purpose="deliveries parked while a circuit is open: read, release",
                keys=(f"~{parked}",),
                commands=_plus("xrange xdel"),
            ),
            Selector(
                purpose="the registry: read only",
                keys=tuple(
                    f"%R~{k}"
                    for k in (
                        keys.agent_trust(_ALL),
                        keys.agent_identity(_ALL),
                        keys.agent_record(_ALL),
                        keys.agent_heartbeat(_ALL),
                        keys.agent_health(_ALL),
                        keys.ALL_AGENTS,
                    )
                ),
                commands=_plus("hgetall hget hmget exists smembers scard"),
            ),
            Selector(
                purpose="replay protection, rate limits, gateway keys, dead letters, audit",
                keys=tuple(f"~{k}" for k in _GATEWAY_STATE),
                commands=_plus(
                    "set get del exists hset hget hgetall hmget hdel pexpire expire pttl ttl "
                    "xadd xrange xrevrange xlen xinfo|stream watch lrange llen lindex xread"
                ),
            ),
        ),
    )


def service_principal() -> Principal:
    """The MAS service: reads the registry, marks lapsed agents INACTIVE, relays events."""
    record, heartbeat = keys.agent_record(_ALL), keys.agent_heartbeat(_ALL)
    return Principal(
        username=SERVICE_USER,
        root=Selector(
            commands=(*_CONNECTION, *_SCRIPTS, *_plus("psubscribe punsubscribe subscribe")),
            keys=(f"~{record}", f"~{heartbeat}"),
            channels=(keys.agent_events_channel(_ALL),),
        ),
        selectors=(
            Selector(
                purpose="agent profiles: status only",
                keys=(f"~{record}",),
                commands=_plus("hget hset hgetall hmget"),
            ),
            Selector(
                purpose="liveness and the agent list: read only",
                keys=(f"%R~{heartbeat}", f"%R~{keys.ALL_AGENTS}"),
                commands=_plus("exists smembers"),
            ),
            Selector(
                purpose="system events",
                channels=(keys.SYSTEM_CHANNEL,),
                commands=_plus("publish"),
            ),
        ),
    )


def shard_neighbour(agent_id: str) -> str:
    """An id no agent can have whose outbox is in the same ingress shard as `agent_id`'s."""
    shard = keys.ingress_shard(agent_id)
    return next(
        candidate
        for candidate in (f"{PROBE_AGENT}.{n}" for n in range(10_000))
        if keys.ingress_shard(candidate) == shard
    )


def forbidden_for_agent(agent_id: str, other_id: str = PROBE_AGENT) -> list[tuple[str, ...]]:
    """Commands the user of `agent_id` must not be able to run (checked with ACL DRYRUN).

    The gateway checks them for every agent user at start (`mas_gateway.acl_check`),
    and the tests run each of them for real as an agent.
    """
    me, other = agent_id, other_id
    return [
        ("HSET", keys.agent_trust(me), "roles", "[]"),
        ("HDEL", keys.agent_trust(me), "revoked_at"),
        ("HGETALL", keys.agent_trust(other)),
        ("HSET", keys.agent_identity(me), "public_key", "x"),
        ("HSET", keys.agent_record(other), "status", "ACTIVE"),
        ("SET", keys.agent_record(me), "x"),
        ("DEL", keys.agent_record(me)),
        ("XGROUP", "CREATE", keys.agent_stream(me), keys.AGENTS_GROUP, "$"),
        ("XGROUP", "SETID", keys.agent_stream(me), keys.AGENTS_GROUP, "$"),
        ("XGROUP", "DESTROY", keys.agent_stream(me), keys.AGENTS_GROUP),
        ("CLIENT", "SETNAME", "mas-gateway"),
        ("HSET", keys.GATEWAY_KEYS, "k", "v"),
        ("HSET", keys.GATEWAY_PRESENCE, "gateway-1", "{}"),
        ("HDEL", keys.GATEWAY_PRESENCE, "gateway-1"),
        ("SADD", keys.ALL_AGENTS, "x"),
        ("XADD", keys.agent_outbox(other), "*", "f", "v"),
        ("XADD", keys.agent_outbox(shard_neighbour(me)), "*", "f", "v"),
        ("XADD", keys.agent_outbox(me) + ".x", "*", "f", "v"),
        ("XADD", keys.forwarded(me, "m"), "*", "f", "v"),
        ("XTRIM", keys.agent_outbox(me), "MAXLEN", "0"),
        ("XDEL", keys.agent_outbox(me), "0-1"),
        ("DEL", keys.agent_outbox(me)),
        ("XRANGE", keys.agent_outbox(me), "-", "+"),
        ("XRANGE", keys.agent_outbox(other), "-", "+"),
        ("XADD", keys.agent_stream(me), "*", "f", "v"),
        ("XADD", keys.agent_stream(other), "*", "f", "v"),
        ("XRANGE", keys.agent_stream(other), "-", "+"),
        ("HGETALL", keys.agent_state(other)),
        ("HSET", keys.agent_state(other), "f", "v"),
        ("DEL", keys.agent_done(other, "m")),
        ("MGET", keys.agent_done(me, "m"), keys.agent_done(other, "m")),
        ("SET", keys.nonce(me, "n"), "1"),
        ("SET", keys.replica_fence("gateway-1"), "1"),
        ("DEL", keys.nonce(me, "n")),
        ("DEL", keys.forwarded(me, "m")),
        ("DEL", keys.rate_limit_bucket(me)),
        ("HINCRBY", keys.agent_health(other), "ok", "1"),
        ("HSET", keys.agent_health(me), "failed", "0"),
        ("DEL", keys.agent_health(me)),
        ("HSET", keys.circuit(me), "state", "closed"),
        ("HGETALL", keys.circuit(me)),
        ("DEL", keys.circuit(me)),
        ("XADD", keys.agent_parked(me), "*", "f", "v"),
        ("XRANGE", keys.agent_parked(me), "-", "+"),
        ("XDEL", keys.agent_parked(me), "0-1"),
        ("SET", keys.forwarded(other, "d"), "1", "NX"),
        ("HSET", keys.circuit(other), "state", "open"),
        ("XDEL", keys.agent_parked(other), "0-1"),
        ("HGETALL", keys.agent_health(other)),
        ("HGETALL", keys.GATEWAY_PRESENCE),
        ("XLEN", keys.agent_dlq(other)),
        ("XRANGE", keys.agent_dlq(other), "-", "+"),
        ("HSET", keys.rate_limit_bucket(me), "tokens", "1000"),
        ("XADD", keys.DLQ, "*", "f", "v"),
        ("XADD", keys.agent_dlq(other), "*", "f", "v"),
        ("DEL", keys.audit_log(keys.ingress_shard(me))),
        ("XADD", keys.audit_log(keys.ingress_shard(me)), "*", "f", "v"),
        ("XADD", keys.audit_log(keys.AUDIT_GATEWAY_SHARD), "*", "f", "v"),
        ("XTRIM", keys.audit_log(keys.ingress_shard(other)), "MAXLEN", "0"),
        ("DEL", keys.audit_checkpoints(keys.ingress_shard(me))),
        ("XADD", keys.audit_checkpoints(keys.INGRESS_SHARDS - 1), "*", "f", "v"),
        ("SET", keys.audit_checkpoint_lock(keys.ingress_shard(me)), "x"),
        ("RPUSH", keys.audit_archive(keys.ingress_shard(me)), "{}"),
        ("PUBLISH", keys.SYSTEM_CHANNEL, "x"),
        ("PUBLISH", keys.POLICY_RELOAD_CHANNEL, "x"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "SET", "appendonly", "no"),
        ("ACL", "SETUSER", "x"),
        ("EVAL", "return 1", "0"),
        ("FUNCTION", "FLUSH"),
        ("SCRIPT", "FLUSH"),
        ("DEBUG", "SLEEP", "0"),
        ("CLIENT", "KILL", "ID", "1"),
        ("CLIENT", "UNBLOCK", "1"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("MONITOR",),
        ("SHUTDOWN",),
        ("REPLICAOF", "NO", "ONE"),
        ("MODULE", "LIST"),
    ]
