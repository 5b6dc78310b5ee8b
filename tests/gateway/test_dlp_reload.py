"""New DLP rules come into force with the policy version that brings them, between batches."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import redis.asyncio as aioredis

from mas_gateway import GatewayService

from ..polling import wait_until
from .helpers import REPO_POLICIES, ProbeAgent, deliveries, gateway_settings, notices

REPORT = {"summary": "14 consultations this week; follow-up calls by Alan Smith"}


def _block_names_to_analytics(policies: Path) -> None:
    """Edit the rules as a compliance team would: names to analytics are now blocked."""
    dlp = policies / "dlp.yaml"
    text = dlp.read_text(encoding="utf-8")
    assert "      CONTACT: redact" in text
    dlp.write_text(text.replace("      CONTACT: redact", "      CONTACT: block"), encoding="utf-8")
    cases = policies / "tests" / "dlp_routes.yaml"
    text = cases.read_text(encoding="utf-8")
    start = text.index("external analytics gets de-identified reports")
    end = text.index("dlp_action: redact", start)
    edited = text[:end] + "dlp_action: block" + text[end + len("dlp_action: redact") :]
    cases.write_text(edited, encoding="utf-8")


async def test_changed_dlp_rules_apply_from_the_next_batch(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    doctor = await ProbeAgent.provision(redis_client, "doctor")
    await ProbeAgent.provision(redis_client, "external-analytics")
    settings = gateway_settings(redis_url, tmp_path, policies_dir=policies, policy_poll_s=0.05)
    async with GatewayService(settings) as gateway:
        await doctor.send("external-analytics", "analytics.report", REPORT)
        async with asyncio.timeout(10):
            await gateway.wait_idle()
        [redacted] = await deliveries(redis_client, gateway, "external-analytics")
        assert "Alan Smith" not in str(redacted.envelope.data)
        assert redacted.gateway.redacted_paths == ["$.summary"]

        assert gateway.policy is not None
        before = gateway.policy.version
        _block_names_to_analytics(policies)

        async def swapped() -> bool:
            assert gateway.policy is not None
            return gateway.policy.version != before

        await wait_until(swapped, 30, "the new policy version to come into force")
        await doctor.send("external-analytics", "analytics.report", REPORT)
        async with asyncio.timeout(10):
            await gateway.wait_idle()
        assert len(await deliveries(redis_client, gateway, "external-analytics")) == 1
        [notice] = await notices(redis_client, gateway, "doctor")
    assert notice["code"] == 451
    assert "PERSON at $.summary" in notice["reason"]


async def test_broken_dlp_rules_are_refused_and_the_old_ones_stay(
    redis_client: aioredis.Redis, redis_url: str, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    doctor = await ProbeAgent.provision(redis_client, "doctor")
    await ProbeAgent.provision(redis_client, "external-analytics")
    settings = gateway_settings(redis_url, tmp_path, policies_dir=policies, policy_poll_s=0.05)
    async with GatewayService(settings) as gateway:
        assert gateway.policy is not None
        version = gateway.policy.version
        (policies / "dlp.yaml").write_text("version: 1\nentities: [this is not a mapping\n")
        result = await gateway.policy.reload_async()
        assert result.status == "refused"
        assert gateway.policy.version == version
        await doctor.send("external-analytics", "analytics.report", REPORT)
        async with asyncio.timeout(10):
            await gateway.wait_idle()
        [delivered] = await deliveries(redis_client, gateway, "external-analytics")
    assert "Alan Smith" not in str(delivered.envelope.data)
