"""A known audit log for compliance tests: decisions built and appended with the audit package.

Each entry comes from `build_audit_entry` on a `MessageContext` carrying a real envelope
(with sensitive-looking payload values), the rule and version the real policy decides,
and DLP findings; the log is then covered by a checkpoint signed with a published key.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from mas import crypto, keys
from mas.envelope import Envelope, dumps
from mas.errors import BlockedByDLP, Forbidden, RateLimited
from mas.provisioning import provision_agent
from mas.records import Provisioner
from mas_gateway.audit import AuditCheckpointer, append_entry, build_audit_entry
from mas_gateway.compliance import record_policy_version
from mas_gateway.context import DLPFinding, MessageContext
from mas_gateway.policy import PolicySet, load_policy_set
from mas_gateway.signing import GatewayKey

REPO = Path(__file__).resolve().parents[2]
REPO_POLICIES = REPO / "policies"
CONTROLS_FILE = REPO / "compliance" / "controls.yaml"
GATEWAY_ID = "gw-test-1"

CARD = "4111 1111 1111 1111"
NAME = "Jonathan Q. Testperson"
EMAIL = "jonathan.testperson@example.org"
SENSITIVE = (CARD, NAME, EMAIL, "4111111111111111")
"""Payload values that must never appear in a report."""

AGENTS = ("patient", "doctor", "specialist", "external-analytics")


@dataclass
class Populated:
    """What was appended, for the tests to compare the report against."""

    policy: PolicySet
    key: GatewayKey
    by_decision: Counter[str] = field(default_factory=Counter[str])
    denials_by_rule: Counter[str] = field(default_factory=Counter[str])
    entities: Counter[str] = field(default_factory=Counter[str])
    first_time: float = 0.0
    last_time: float = 0.0

    @property
    def total(self) -> int:
        """Entries appended."""
        return sum(self.by_decision.values())


def _context(
    policy: PolicySet,
    sender: str,
    target: str,
    message_type: str,
    data: Mapping[str, object],
    at: float,
) -> MessageContext:
    envelope = Envelope(
        sender_id=sender, target_id=target, message_type=message_type, data=dict(data)
    )
    ctx = MessageContext(
        entry_id=f"{int(at * 1000)}-0",
        fields={},
        received_at=at,
        raw_envelope=dumps(envelope.model_dump(mode="json")),
        envelope=envelope,
        data=dict(data),
    )
    decision = policy.decide(sender, target, message_type)
    ctx.policy_version = policy.version
    ctx.authz_rule = decision.rule
    if not decision.allowed:
        ctx.reject(Forbidden(decision.reason, message_id=envelope.message_id), stage="test")
        ctx.decision = "denied"
    return ctx


async def register_agents(client: aioredis.Redis, *, provisioned_by: str = "operator") -> None:
    """Registry records with a key and a hashed token, as provisioning writes them."""
    for agent_id in AGENTS:
        await provision_agent(client, agent_id, [], provisioned_by=Provisioner(provisioned_by))
        await client.hset(keys.agent_record(agent_id), "status", "ACTIVE")


async def populate(
    client: aioredis.Redis, *, policies: Path = REPO_POLICIES, start: float | None = None
) -> Populated:
    """Append a known mix of decisions spread over three minutes, then sign a checkpoint."""
    policy = load_policy_set(policies)
    key = GatewayKey(crypto.generate_private_key())
    await key.publish(client)
    await register_agents(client)
    await record_policy_version(client, policy, GATEWAY_ID)
    out = Populated(policy, key)
    at = start if start is not None else time.time() - 200.0
    out.first_time = at
    plan: list[tuple[str, str, str, str, Mapping[str, object], list[tuple[str, str]]]] = [
        *[("delivered", "patient", "doctor", "consultation.request", {"q": "headache"}, [])] * 6,
        *[("delivered", "doctor", "patient", "consultation.response", {"a": "rest"}, [])] * 2,
        *[("denied", "patient", "specialist", "consultation.request", {"q": "skip"}, [])] * 3,
        ("denied", "external-analytics", "patient", "analytics.export", {"rows": 3}, []),
        *[("rate_limited", "patient", "doctor", "consultation.request", {"q": "again"}, [])] * 2,
        (
            "blocked",
            "patient",
            "doctor",
            "consultation.request",
            {"card": CARD},
            [("CREDIT_CARD", "$.card")],
        ),
        *[
            (
                "redacted",
                "doctor",
                "specialist",
                "referral.request",
                {"name": NAME, "email": EMAIL, "cc": NAME},
                [("PERSON", "$.name"), ("PERSON", "$.cc"), ("EMAIL_ADDRESS", "$.email")],
            )
        ]
        * 2,
    ]
    for decision, sender, target, message_type, data, findings in plan:
        ctx = _context(policy, sender, target, message_type, data, at)
        assert (ctx.decision or "delivered") == ("denied" if decision == "denied" else "delivered")
        if decision == "rate_limited":
            ctx.reject(RateLimited("slow down", retry_after=1.0), stage="test")
        ctx.dlp_findings = [DLPFinding(entity, path, 0, 4, 0.9) for entity, path in findings]
        if decision == "blocked":
            ctx.dlp_action = "block"
            ctx.reject(BlockedByDLP("CREDIT_CARD at $.card"), stage="test")
        elif decision == "redacted":
            ctx.dlp_action = "redact"
            ctx.modified = True
            ctx.redacted_paths = [path for _entity, path in findings]
        elif decision == "delivered":
            ctx.dlp_action = "allow"
        ctx.decision = decision
        await append_entry(
            client,
            build_audit_entry(ctx, gateway_id=GATEWAY_ID, key_id=key.key_id),
            shard=keys.audit_shard(sender),
        )
        out.by_decision[decision] += 1
        if decision == "denied":
            out.denials_by_rule[ctx.authz_rule or "?"] += 1
        out.entities.update(entity for entity, _path in findings)
        out.last_time = at
        at += 10.0
    checkpointer = AuditCheckpointer(client, key.private_key, gateway_id=GATEWAY_ID)
    assert await checkpointer.checkpoint_now() is not None
    return out
