"""Collect the evidence a compliance report is built from, in one pass over Redis and `policies/`.

The audit log is verified with the audit package's verifier (the whole log, every
checkpoint), then read once to count the period's decisions; the policy files are
validated and their test cases run; the policy version history and the registry
records of the agents that sent delivered messages are read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mas import keys

from ..agent_records import fetch_records
from ..audit.checkpoint import load_gateway_keys
from ..audit.errors import AuditFormatError
from ..audit.log import iter_log
from ..audit.recompute import Finding
from ..audit.report import VerifyReport, Witness
from ..audit.verifier import combine_reports, verify_shards
from ..policy import PolicyError, PolicySet, PolicyTestReport, load_policy_set, run_policy_tests
from ..policy.dlp_check import dlp_check_for
from .history import PolicyVersionRecord, read_policy_versions
from .period import Period
from .stats import AuditStats

__all__ = ["Evidence", "PolicyEvidence", "SenderRecord", "collect_evidence"]


@dataclass(frozen=True)
class SenderRecord:
    """What the registry says about an agent that sent delivered messages."""

    agent_id: str
    exists: bool
    status: str | None = None
    has_key: bool = False
    has_token: bool = False
    provisioned_by: str | None = None


@dataclass
class PolicyEvidence:
    """The local policy directory: loaded (or why not) and its test results."""

    directory: Path
    policy: PolicySet | None = None
    problems: list[str] = field(default_factory=list[str])
    tests: PolicyTestReport | None = None
    test_error: str | None = None

    @property
    def version(self) -> str | None:
        """The local version's hash, when the files load."""
        return self.policy.version if self.policy is not None else None


@dataclass
class Evidence:
    """Everything the rules and the report read."""

    generated_at: float
    period: Period
    redis_url: str
    audit: VerifyReport
    stats: AuditStats
    policy: PolicyEvidence
    history: list[PolicyVersionRecord]
    history_problems: list[str]
    senders: dict[str, SenderRecord]
    gateway_keys: frozenset[str]
    archive_dir: Path | None = None


def _relative(text: str, root: Path) -> str:
    """A policy problem with the directory shown as `policies/` (no machine paths in reports)."""
    return text.replace(str(root.resolve()) + "/", "policies/").replace(
        str(root) + "/", "policies/"
    )


def load_policy_evidence(directory: Path) -> PolicyEvidence:
    """Load the policy files and run their test cases; problems are kept, not raised."""
    evidence = PolicyEvidence(directory)
    try:
        evidence.policy = load_policy_set(directory)
    except PolicyError as exc:
        evidence.problems = [_relative(str(issue), directory) for issue in exc.issues]
        return evidence
    try:
        evidence.tests = run_policy_tests(evidence.policy, dlp_check_for(evidence.policy))
    except PolicyError as exc:
        evidence.test_error = _relative(str(exc), directory)
    except Exception as exc:  # the DLP engine failing to load is evidence, not a crash
        evidence.test_error = f"{type(exc).__name__}: {_relative(str(exc), directory)}"
    return evidence


async def _senders(client: aioredis.Redis, agent_ids: set[str]) -> dict[str, SenderRecord]:
    ordered = sorted(agent_ids)
    records = await fetch_records(client, ordered)
    async with client.pipeline(transaction=False) as pipe:
        for agent_id in ordered:
            pipe.hget(keys.agent_record(agent_id), "status")
        statuses: list[bytes | None] = await pipe.execute()
    out: dict[str, SenderRecord] = {}
    for agent_id, status in zip(ordered, statuses, strict=True):
        record = records.get(agent_id)
        out[agent_id] = SenderRecord(
            agent_id,
            exists=record is not None,
            status=status.decode("utf-8", "replace") if status is not None else None,
            has_key=record is not None and bool(record.public_key),
            has_token=record is not None and bool(record.trust.token_hash),
            provisioned_by=str(record.trust.provisioned_by) if record is not None else None,
        )
    return out


async def collect_evidence(
    client: aioredis.Redis,
    *,
    policies_dir: Path,
    period: Period,
    redis_url: str,
    archive_dir: Path | None = None,
    trusted: Mapping[str, Ed25519PublicKey] | None = None,
    witness: Witness | None = None,
    witness_shard: int = keys.AUDIT_GATEWAY_SHARD,
    progress: Callable[[str], None] | None = None,
) -> Evidence:
    """Verify the audit log, count the period's decisions, test the policy, read the history.

    `progress`, when given, is told each step as it starts.

    Raises:
        ConfigError: an archive segment of the audit log cannot be read.
    """
    generated_at = time.time()
    stats = AuditStats(period)
    say = progress or (lambda _: None)
    try:
        say("compliance report: verifying the audit log")
        audit = combine_reports(
            await verify_shards(
                client,
                trusted=trusted,
                archive_dir=archive_dir,
                witnesses={witness_shard: witness} if witness is not None else None,
                progress=progress,
            )
        )
        say("compliance report: counting the period's decisions")
        for shard in range(keys.INGRESS_SHARDS):
            async for entry in iter_log(client, shard=shard, archive_dir=archive_dir):
                stats.add(entry.raw)
    except AuditFormatError as exc:
        audit = VerifyReport(source="audit log in Redis")
        audit.findings.append(Finding("format", f"the audit log cannot be read: {exc}"))
    say("compliance report: reading the policy version history")
    history, history_problems = await read_policy_versions(client)
    published = await load_gateway_keys(client)
    say("compliance report: checking and testing the policies")
    policy = await asyncio.to_thread(load_policy_evidence, policies_dir)
    return Evidence(
        generated_at=generated_at,
        period=period,
        redis_url=redis_url,
        audit=audit,
        stats=stats,
        policy=policy,
        history=history,
        history_problems=history_problems,
        senders=await _senders(client, stats.delivered_senders),
        gateway_keys=frozenset(published),
        archive_dir=archive_dir,
    )
