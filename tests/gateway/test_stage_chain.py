"""The stage chain: stages registered by name, in the order settings give, one policy per batch."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import keys
from mas.envelope import decode_fields, parse_delivered, sign_submission, verify_delivery
from mas.errors import ConfigError
from mas_gateway import GatewayService
from mas_gateway.audit.entry import parse_entry
from mas_gateway.context import MessageContext
from mas_gateway.stages.base import Batch
from mas_gateway.stages.registry import StageEnv, register

from ..auditlog import audit_xlen, audit_xrange
from ..polling import wait_until
from .helpers import REPO_POLICIES, ProbeAgent, deliveries, gateway_settings, idle


class ParkFor:
    """The circuit-breaker stage's skeleton: parks every message for one named target."""

    name = "park"

    def __init__(self, target: str) -> None:
        self.target = target

    async def prepare(self, batch: Batch[None]) -> None:
        return None

    async def check(self, ctx: MessageContext, batch: Batch[None]) -> None:
        assert ctx.envelope is not None
        if ctx.envelope.target_id == self.target:
            ctx.park(f"the circuit of {self.target} is open", stage=self.name)


async def _park_doctor(env: StageEnv) -> ParkFor:
    return ParkFor("doctor")


register("park", _park_doctor)  # the one registration line a new stage needs


async def test_a_registered_stage_runs_where_the_settings_put_it(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    patient = await ProbeAgent.provision(redis_client, "patient")
    await ProbeAgent.provision(redis_client, "doctor")
    order = ["parse", "authn", "authz", "target", "ratelimit", "park", "dlp"]
    async with GatewayService(gateway_settings(redis_url, tmp_path, stages=order)) as gateway:
        assert gateway.pipeline.names() == order
        mid = await patient.send("doctor", "consultation.request", {"q": "cough"})
        await idle(gateway)
        assert await deliveries(redis_client, gateway, "doctor") == []
        [(_id, raw)] = await redis_client.xrange(keys.agent_parked("doctor"))
        fields = decode_fields(raw)
        trusted = {gateway.key.key_id: gateway.key.private_key.public_key()}
        parked = parse_delivered(verify_delivery(fields, trusted), fields)
        assert parked.envelope.message_id == mid  # kept, gateway-signed, never dropped
        [(_id, audit)] = await audit_xrange(redis_client)
    assert parse_entry(audit[b"entry"])["decision"] == "parked"
    assert gateway.counts["parked"] == 1


async def test_an_unknown_stage_name_is_a_configuration_error(
    redis_url: str, tmp_path: Path
) -> None:
    settings = gateway_settings(redis_url, tmp_path, stages=["parse", "authn", "sniff"])
    with pytest.raises(ConfigError, match=r"unknown stage.*sniff.*registered:"):
        await GatewayService(settings).start()


async def test_entries_with_equal_ids_in_two_outboxes_are_judged_apart(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Entry ids are per stream: a forged entry must not borrow another one's verdict."""
    patient = await ProbeAgent.provision(redis_client, "patient")
    specialist = await ProbeAgent.provision(redis_client, "specialist")
    await ProbeAgent.provision(redis_client, "doctor")
    good = sign_submission(
        patient.envelope("doctor", "consultation.request", {"n": "real"}),
        patient.key,
        patient.token,
    )
    forged = sign_submission(
        specialist.envelope("doctor", "referral.response", {"n": "forged"}),
        patient.key,  # not the specialist's key
        specialist.token,
    )
    # The operator writes both at one id, as two agents appending in one millisecond would.
    await redis_client.xadd(keys.agent_outbox("specialist"), forged, id="5-1")  # type: ignore[arg-type]
    await redis_client.xadd(keys.agent_outbox("patient"), good, id="5-1")  # type: ignore[arg-type]
    async with GatewayService(gateway_settings(redis_url, tmp_path, batch_size=64)) as gateway:
        await idle(gateway)
        delivered = await deliveries(redis_client, gateway, "doctor")
    assert [d.envelope.data["n"] for d in delivered] == ["real"]
    assert gateway.counts["unauthenticated"] == 1


async def test_every_entry_of_a_batch_names_the_version_whose_rules_it_got(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """Across a reload during traffic: authz, rate limits and DLP of one version, per entry."""
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    doctor = await ProbeAgent.provision(redis_client, "doctor")
    await ProbeAgent.provision(redis_client, "external-analytics")
    report = {"summary": "follow-up calls by Alan Smith"}
    settings = gateway_settings(redis_url, tmp_path, policies_dir=policies, policy_poll_s=None)
    async with GatewayService(settings) as gateway:
        assert gateway.policy is not None
        old = gateway.policy.version
        sends = [doctor.send("external-analytics", "analytics.report", report) for _ in range(30)]
        traffic = asyncio.gather(*sends)
        dlp = policies / "dlp.yaml"  # the new version blocks names to analytics...
        dlp.write_text(dlp.read_text().replace("      CONTACT: redact", "      CONTACT: block"))
        cases = policies / "tests" / "dlp_routes.yaml"
        text = cases.read_text()
        start = text.index("external analytics gets de-identified reports")
        end = text.index("dlp_action: redact", start)
        cases.write_text(text[:end] + "dlp_action: block" + text[end + len("dlp_action: redact") :])
        limits = policies / "ratelimits.yaml"  # ...and lets clinicians send one message
        text = limits.read_text()
        text = text.replace("  rate: 50\n  burst: 100", "  rate: 0.001\n  burst: 1")
        limits.write_text(text.replace("rate: 100\n    burst: 200", "rate: 0.001\n    burst: 1"))
        await traffic

        async def first_batch_committed() -> bool:
            return bool(await audit_xlen(redis_client))

        await wait_until(first_batch_committed, 30, "the first batch to be committed")
        # The reload lands while the rest of the traffic is still being processed.
        assert (await gateway.policy.reload_async()).status == "replaced"
        new = gateway.policy.version
        for _ in range(10):
            await doctor.send("external-analytics", "analytics.report", report)
        await idle(gateway)
        entries = [parse_entry(f[b"entry"]) for _, f in await audit_xrange(redis_client)]
    assert new != old
    by_version = {
        version: [e["decision"] for e in entries if e["policy_version"] == version]
        for version in (old, new)
    }
    assert len(entries) == 40 == len(by_version[old]) + len(by_version[new])
    assert by_version[old] and len(by_version[new]) >= 10
    # Wherever the reload fell: under the old version names are redacted with a generous
    # limit; under the new one names are blocked, and a bucket holds one message, so after
    # the first the rest are rate limited. No entry mixes the two.
    assert set(by_version[old]) == {"redacted"}, json.dumps(entries)
    assert by_version[new] == ["blocked"] + ["rate_limited"] * (len(by_version[new]) - 1)
