"""`mas compliance report` on a known audit log: the JSON twin says what the log holds."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from mas import crypto, keys
from mas_gateway.audit import AuditCheckpointer, append_entry, build_audit_entry
from mas_gateway.audit.checkpoint import latest_checkpoint
from mas_gateway.audit.streams import stream_entries
from mas_gateway.cli import main
from mas_gateway.context import MessageContext
from mas_gateway.policy import DEFAULT_DENY

from ..auditlog import audit_xrange
from .helpers import CONTROLS_FILE, GATEWAY_ID, REPO_POLICIES, SENSITIVE, populate

SHARD = keys.ingress_shard("patient")
"""The audit shard of the patient's decisions: 6 delivered, then 3 denied."""

AUDIT_CONTROLS = (
    "HIPAA 164.312(b)",
    "HIPAA 164.312(c)(1)",
    "SOC 2 CC7.2",
    "GDPR Art. 32",
    "PCI DSS 10",
)


async def report(
    redis_url: str, out: Path, *extra: str, policies: Path = REPO_POLICIES
) -> tuple[int, dict[str, Any]]:
    """Run the command (in a thread: it runs its own event loop); exit code and JSON written."""
    code = await asyncio.to_thread(
        main,
        [
            "compliance",
            "report",
            "--since",
            "1h",
            "--out",
            str(out),
            "--redis-url",
            redis_url,
            "--policies",
            str(policies),
            "--controls",
            str(CONTROLS_FILE),
            *extra,
        ],
    )
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return code, document


def controls_by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {control["id"]: control for control in document["controls"]}


def rule_status(control: dict[str, Any], rule: str) -> str:
    [found] = [r for r in control["rules"] if r["rule"] == rule]
    return found["status"]


async def test_report_counts_what_the_log_holds(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populated = await populate(redis_client)
    code, document = await report(redis_url, tmp_path / "out")

    steps = [line for line in capsys.readouterr().err.splitlines() if line.startswith("... ")]
    assert steps == [  # each step says so on stderr as it starts
        "... compliance report: verifying the audit log",
        "... compliance report: counting the period's decisions",
        "... compliance report: reading the policy version history",
        "... compliance report: checking and testing the policies",
        "... compliance report: writing the report",
    ]

    assert code == 0, [c["reason"] for c in document["controls"] if c["status"] == "fail"]
    assert (tmp_path / "out" / "report.html").is_file()
    assert document["decisions"]["total"] == populated.total == 17
    assert document["decisions"]["by_decision"] == dict(populated.by_decision)
    denials = {d["rule"]: d["count"] for d in document["denials_by_rule"]}
    assert denials == dict(populated.denials_by_rule)
    assert DEFAULT_DENY in denials and len(denials) == 2
    texts = {d["rule"]: d["text"] for d in document["denials_by_rule"]}
    assert all(texts.values()), texts  # the deny line of policy.csv, and the default deny
    dlp = {d["entity"]: d["count"] for d in document["dlp_findings_by_entity"]}
    assert dlp == {"PERSON": 4, "EMAIL_ADDRESS": 2, "CREDIT_CARD": 1}

    timeline = document["decisions_over_time"]
    assert timeline["bucket_seconds"] == 5
    assert len(timeline["buckets"]) > 30
    summed = sum(sum(bucket["counts"].values()) for bucket in timeline["buckets"])
    assert summed == populated.total
    assert timeline["buckets"][0]["start"] <= populated.first_time

    audit = document["audit_verification"]
    assert (
        audit["ok"] and audit["entries"] == 17 and audit["checkpoints"] == 3
    )  # three senders' shards
    assert audit["key_ids"] == [populated.key.key_id]
    tests = document["policy"]["tests"]
    assert tests["total"] == len(populated.policy.test_cases) > 0
    assert tests["passed"] == tests["total"] and tests["failed"] == 0
    [version] = document["policy_versions"]
    assert version["version"] == populated.policy.version == document["policy"]["version"]
    assert version["gateway_id"] == GATEWAY_ID
    assert {f["path"] for f in version["files"]} >= {"model.conf", "policy.csv", "roles.csv"}

    controls = controls_by_id(document)
    assert document["summary"]["fail"] == 0
    assert document["summary"]["pass"] + document["summary"]["manual"] == len(controls)
    for control_id in (*AUDIT_CONTROLS[:2], "HIPAA 164.312(d)", "PCI DSS 3", "PCI DSS 7"):
        assert controls[control_id]["status"] == "pass", controls[control_id]["rules"]
    assert rule_status(controls["HIPAA 164.312(e)(1)"], "redis_tls") == "manual"
    assert all(rule["reason"] for c in controls.values() for rule in c["rules"])


async def test_report_holds_no_payload_values(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await populate(redis_client)
    await report(redis_url, tmp_path / "out")
    for name in ("report.html", "report.json"):
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        for value in SENSITIVE:
            assert value not in text, f"{value!r} leaked into {name}"
    entries = stream_entries(await audit_xrange(redis_client))
    assert entries and all(SENSITIVE[0].encode() not in fields["entry"] for _, fields in entries)


async def _rewrite_log(client: aioredis.Redis, index: int) -> None:
    """Recreate the audit stream with one entry's decision changed (same ids, same length)."""
    entries = stream_entries(await client.xrange(keys.audit_log(SHARD)))
    await client.delete(keys.audit_log(SHARD))
    for position, (stream_id, fields) in enumerate(entries):
        raw = fields["entry"]
        if position == index:
            assert b'"decision":"denied"' in raw
            raw = raw.replace(b'"decision":"denied"', b'"decision":"delivered"')
        await client.xadd(keys.audit_log(SHARD), {"entry": raw}, id=stream_id)


@pytest.mark.parametrize("tampering", ["modified", "deleted"])
async def test_a_tampered_log_fails_the_audit_controls(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path, tampering: str
) -> None:
    await populate(redis_client)
    if tampering == "modified":
        await _rewrite_log(redis_client, 6)
    else:
        [(stream_id, _fields)] = stream_entries(
            await redis_client.xrange(keys.audit_log(SHARD), count=1)
        )
        await redis_client.xdel(keys.audit_log(SHARD), stream_id)

    code, document = await report(redis_url, tmp_path / "out")

    assert code == 1
    assert not document["audit_verification"]["ok"]
    assert document["summary"]["fail"] >= len(AUDIT_CONTROLS)
    controls = controls_by_id(document)
    for control_id in AUDIT_CONTROLS:
        control = controls[control_id]
        assert control["status"] == "fail", control_id
        assert rule_status(control, "audit_verified") == "fail"
        assert "audit verification failed" in control["reason"]
    if tampering == "modified":
        first = document["audit_verification"]["first_bad_entry"]
        assert first is not None and first["index"] == 6 and first["shard"] == SHARD
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "FAILED" in html


async def test_decisions_under_an_unrecorded_policy_version_fail(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    populated = await populate(redis_client)
    ctx = MessageContext("1-0", {})
    ctx.decision = "denied"
    ctx.policy_version = "f" * 64
    await append_entry(
        redis_client,
        build_audit_entry(ctx, gateway_id=GATEWAY_ID, key_id=populated.key.key_id),
        shard=keys.AUDIT_GATEWAY_SHARD,
    )

    code, document = await report(redis_url, tmp_path / "out")

    assert code == 1
    control = controls_by_id(document)["SOC 2 CC6.1"]
    assert control["status"] == "fail"
    assert rule_status(control, "decisions_versioned") == "fail"
    assert "ffffffffffff (1)" in control["reason"]
    # ...and the entry names no rule, so the denial is unattributed
    access = controls_by_id(document)["HIPAA 164.312(a)(1)"]
    assert rule_status(access, "denials_attributed") == "fail"
    assert {"rule": "(no rule recorded)", "count": 1, "text": None} in document["denials_by_rule"]


async def test_a_failing_policy_test_fails_the_access_controls(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    populated = await populate(redis_client, policies=policies)
    cases = policies / "tests" / "healthcare.yaml"
    text = cases.read_text(encoding="utf-8")
    first_allow = text.index("expect: allow")
    cases.write_text(text[:first_allow] + "expect: deny" + text[first_allow + 13 :], "utf-8")

    code, document = await report(redis_url, tmp_path / "out", policies=policies)

    assert code == 1
    tests = document["policy"]["tests"]
    assert tests["failed"] == 1 and tests["passed"] == tests["total"] - 1
    [failed] = [case for case in tests["cases"] if not case["passed"]]
    rule = populated.policy.decide("patient", "doctor", "consultation.request").rule
    assert (failed["from"], failed["to"], failed["expect"]) == ("patient", "doctor", "deny")
    assert failed["differences"] == [f"decision: expected deny, got allow ({rule})"]
    for control_id in ("HIPAA 164.312(a)(1)", "PCI DSS 7", "GDPR Art. 32"):
        control = controls_by_id(document)[control_id]
        assert control["status"] == "fail"
        assert rule_status(control, "policy_tests_pass") == "fail"
        # the tested files are no longer the version the gateway put in force
        assert rule_status(control, "policy_in_force_tested") == "fail"


def test_usage_and_configuration_errors_exit_2(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    base = ["compliance", "report", "--out", str(out), "--controls", str(CONTROLS_FILE)]
    assert main([*base, "--redis-url", redis_url, "--since", "last tuesday"]) == 2
    assert "--since 'last tuesday' is not a date" in capsys.readouterr().err
    assert main([*base, "--redis-url", redis_url, "--since", "2999-01-01"]) == 2
    assert "is in the future" in capsys.readouterr().err
    assert main([*base, "--redis-url", "redis://:secret@127.0.0.1:1/0"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://***@127.0.0.1:1/0" in err and "secret" not in err
    missing = tmp_path / "nowhere"
    assert main([*base, "--redis-url", redis_url, "--policies", str(missing)]) == 2
    assert f"policies directory {missing} not found" in capsys.readouterr().err
    bad = tmp_path / "controls.yaml"
    bad.write_text("frameworks: {}\ncontrols: []\n", encoding="utf-8")
    assert main([*base, "--redis-url", redis_url, "--controls", str(bad)]) == 2
    assert "controls.yaml: 'frameworks' must map" in capsys.readouterr().err
    out.write_text("a file", encoding="utf-8")
    assert main([*base, "--redis-url", redis_url]) == 2
    assert f"--out {out} exists and is not a directory" in capsys.readouterr().err


async def test_a_pinned_gateway_key_is_the_only_key_trusted(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    populated = await populate(redis_client)
    right, wrong, garbage = tmp_path / "right.pub", tmp_path / "wrong.pub", tmp_path / "bad.pub"
    right.write_text(populated.key.public_key_b64 + "\n", encoding="ascii")
    wrong.write_text(crypto.public_key_to_b64(crypto.generate_private_key()), encoding="ascii")
    garbage.write_text("not a key", encoding="ascii")

    code, document = await report(redis_url, tmp_path / "a", "--pubkey", str(right))
    assert code == 0
    verified = controls_by_id(document)["HIPAA 164.312(b)"]["rules"][0]
    assert verified["status"] == "pass" and "pin them" not in verified["reason"]
    assert document["audit_verification"]["notes"] == []

    code, document = await report(redis_url, tmp_path / "b", "--pubkey", str(wrong))
    assert code == 1
    assert not document["audit_verification"]["ok"]
    assert controls_by_id(document)["PCI DSS 10"]["status"] == "fail"

    argv = ["compliance", "report", "--out", str(tmp_path / "c"), "--redis-url", redis_url]
    assert await asyncio.to_thread(main, [*argv, "--pubkey", str(garbage)]) == 2
    assert not (tmp_path / "c").exists()


async def test_decisions_before_the_period_are_verified_but_not_counted(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await populate(redis_client, start=time.time() - 3 * 3600)

    code, document = await report(redis_url, tmp_path / "out", "--since", "2h")

    assert document["decisions"] == {"total": 0, "by_decision": {}}
    assert document["decisions_over_time"]["buckets"] == []
    assert document["denials_by_rule"] == [] and document["dlp_findings_by_entity"] == []
    assert document["audit_verification"]["ok"]
    assert document["audit_verification"]["entries"] == 17
    control = controls_by_id(document)["PCI DSS 10"]
    assert rule_status(control, "audit_verified") == "pass"
    assert rule_status(control, "audit_recorded") == "manual"
    assert code == 0


async def test_a_witness_catches_a_log_cut_short_and_signed_again(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    populated = await populate(redis_client)
    latest = await latest_checkpoint(redis_client, shard=SHARD)
    assert latest is not None
    witness = tmp_path / "witness.json"
    witness.write_text(json.dumps(latest.signed.to_json()), encoding="utf-8")
    # whoever holds the gateway key keeps the first 5 entries and signs a fresh history
    kept = stream_entries(await redis_client.xrange(keys.audit_log(SHARD), count=5))
    await redis_client.delete(keys.audit_log(SHARD), keys.audit_checkpoints(SHARD))
    for stream_id, fields in kept:
        await redis_client.xadd(keys.audit_log(SHARD), {"entry": fields["entry"]}, id=stream_id)
    signer = AuditCheckpointer(redis_client, populated.key.private_key, gateway_id=GATEWAY_ID)
    assert await signer.checkpoint_now() is not None

    code, document = await report(redis_url, tmp_path / "a")
    assert code == 0 and document["audit_verification"]["entries"] == 5 + 4 + 1  # other shards

    code, document = await report(
        redis_url, tmp_path / "b", "--witness", str(witness), "--witness-shard", str(SHARD)
    )
    assert code == 1
    findings = document["audit_verification"]["findings"]
    assert any("reset and re-signed" in finding["message"] for finding in findings), findings
    assert controls_by_id(document)["HIPAA 164.312(c)(1)"]["status"] == "fail"
