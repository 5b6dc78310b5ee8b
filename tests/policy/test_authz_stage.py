"""The authorization pipeline stage: context filled in, 403 naming the rule, registry roles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas.envelope import Envelope
from mas.errors import Forbidden, RateLimited
from mas.records import TrustRecord
from mas_gateway.context import MessageContext
from mas_gateway.policy import DEFAULT_DENY, PolicyStore
from mas_gateway.stages.authz import AuthorizationStage
from mas_gateway.stages.base import Stage
from mas_gateway.stages.ratelimit import RateLimitStage

from ..stages import run_stages
from .conftest import REPO_POLICIES, line_of


def context(
    sender: str,
    target: str,
    message_type: str,
    record: dict[str, str] | None = None,
    *,
    entry: str = "1-0",
    data: dict[str, object] | None = None,
) -> MessageContext:
    ctx = MessageContext(entry_id=entry, fields={})
    ctx.envelope = Envelope(
        sender_id=sender, target_id=target, message_type=message_type, data=data or {}
    )
    ctx.sender_trust = TrustRecord.from_hash(record or {"token_hash": "x"})
    return ctx


async def authorize(store: PolicyStore, ctx: MessageContext, *more: Stage) -> None:
    """Run authorization (then `more` stages) under the store's version; raise its refusal."""
    await run_stages([AuthorizationStage(), *more], [ctx], store.current)
    if ctx.rejection is not None:
        raise ctx.rejection


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore.load(REPO_POLICIES)


def operator_record(agent_id: str, roles: list[str]) -> dict[str, str]:
    return {"token_hash": "x", "provisioned_by": "operator", "roles": json.dumps(roles)}


async def test_is_a_pipeline_stage(store: PolicyStore) -> None:
    stage = AuthorizationStage()
    assert isinstance(stage, Stage)
    assert stage.name == "authz"


async def test_allowed_message_fills_the_context(store: PolicyStore) -> None:
    ctx = context("doctor", "patient", "consultation.response")
    await authorize(store, ctx)
    line = line_of(
        REPO_POLICIES / "policy.csv", "p, doctor, patients, consultation.response, allow"
    )
    assert ctx.authz_rule == f"policy.csv:{line}"
    assert ctx.policy_version == store.version
    assert ctx.sender_roles == ("agent", "clinician", "doctor")
    assert ctx.target_groups == ("patients",)
    assert ctx.shadow_decisions == []


async def test_denied_message_raises_forbidden_naming_the_rule(store: PolicyStore) -> None:
    secret = "MRN 12345678"
    ctx = context("patient", "specialist", "consultation.request", data={"note": secret})
    with pytest.raises(Forbidden) as caught:
        await authorize(store, ctx)
    line = line_of(REPO_POLICIES / "policy.csv", "p, patient, specialists, consultation.*, deny")
    assert caught.value.code == 403
    assert f"policy.csv:{line}" in caught.value.reason
    assert secret not in caught.value.reason
    assert caught.value.message_id == ctx.message_id
    assert ctx.authz_rule == f"policy.csv:{line}"
    assert ctx.policy_version == store.version


async def test_default_deny_is_recorded(store: PolicyStore) -> None:
    ctx = context("student", "doctor", "question.ask")
    with pytest.raises(Forbidden, match="no rule allows it"):
        await authorize(store, ctx)
    assert ctx.authz_rule == DEFAULT_DENY


async def test_operator_roles_from_the_registry_count(store: PolicyStore) -> None:
    ctx = context("locum", "patient", "consultation.response", operator_record("locum", ["doctor"]))
    await authorize(store, ctx)
    assert "doctor" in ctx.sender_roles and "clinician" in ctx.sender_roles


async def test_self_registered_roles_are_ignored(store: PolicyStore) -> None:
    record = {"token_hash": "x", "provisioned_by": "auto", "roles": json.dumps(["doctor"])}
    ctx = context("locum", "patient", "consultation.response", record)
    with pytest.raises(Forbidden):
        await authorize(store, ctx)
    assert ctx.sender_roles == ("agent",)


async def test_malformed_registry_roles_fail_closed(store: PolicyStore) -> None:
    record = {"token_hash": "x", "provisioned_by": "operator", "roles": '{"doctor": true}'}
    ctx = context("locum", "patient", "mas.error", record)
    with pytest.raises(Forbidden, match="registry roles"):
        await authorize(store, ctx)


async def test_missing_envelope_fails_closed(store: PolicyStore) -> None:
    with pytest.raises(Forbidden):
        await authorize(store, MessageContext(entry_id="1-0", fields={}))


async def test_roles_feed_the_rate_limiter(
    store: PolicyStore, redis_client: aioredis.Redis
) -> None:
    """A patient's burst of 5 (ratelimits.yaml) through the real token bucket: the 6th gets 429."""
    limiter = RateLimitStage(redis_client)
    outcomes: list[str] = []
    for number in range(6):
        ctx = context("patient", "doctor", "consultation.request", entry=f"{number}-0")
        try:
            await authorize(store, ctx, limiter)
            outcomes.append("ok")
        except RateLimited as exc:
            assert exc.retry_after > 0
            outcomes.append("429")
    assert outcomes == ["ok"] * 5 + ["429"]


async def test_uses_the_version_in_force(policies: Path) -> None:
    store = PolicyStore.load(policies)
    ctx = context("student", "professor", "question.ask")
    await authorize(store, ctx)
    csv = policies / "policy.csv"
    csv.write_text(csv.read_text() + "p, student, professors, question.ask, deny\n")
    shutil.rmtree(policies / "tests")
    assert store.reload().status == "replaced"
    after = context("student", "professor", "question.ask")
    with pytest.raises(Forbidden):
        await authorize(store, after)
    assert after.policy_version == store.version != ctx.policy_version
