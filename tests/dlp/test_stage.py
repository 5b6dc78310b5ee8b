"""The pipeline stage: batch scan, per-route decision, block/redact/alert/allow on the context."""

from __future__ import annotations

import logging

import pytest

from mas.errors import BlockedByDLP
from mas_gateway.audit import build_audit_entry
from mas_gateway.context import MessageContext
from mas_gateway.dlp import DLPEngine
from mas_gateway.stages.base import ScreeningStage
from mas_gateway.stages.dlp import DLPStage

from ..stages import run_stages

SECRETS = ("536-22-1234", "Chloe Garcia", "00203592", "4111 1111 1111 1111", "ghp_")


def _ctx(
    data: dict[str, object], roles: tuple[str, ...] = ("agent",), groups: tuple[str, ...] = ()
) -> MessageContext:
    ctx = MessageContext(entry_id="1-0", fields={})
    ctx.data = data
    ctx.sender_roles = roles
    ctx.target_groups = groups
    return ctx


@pytest.fixture
def stage() -> DLPStage:
    return DLPStage(workers=0)


def test_stage_is_a_screening_stage(stage: DLPStage) -> None:
    assert isinstance(stage, ScreeningStage)
    assert stage.name == "dlp"


async def test_block_raises_451_with_types_and_paths_only(stage: DLPStage) -> None:
    ctx = _ctx({"form": {"ssn": "536-22-1234", "card": "4111 1111 1111 1111"}})
    await run_stages(stage, [ctx])
    assert isinstance(ctx.rejection, BlockedByDLP)
    assert ctx.rejection.code == 451
    expected = "blocked by DLP: US_SSN at $.form.ssn; CREDIT_CARD at $.form.card"
    assert ctx.rejection.reason == expected
    assert ctx.dlp_action == "block"
    assert [(f.entity_type, f.path) for f in ctx.dlp_findings] == [
        ("US_SSN", "$.form.ssn"),
        ("CREDIT_CARD", "$.form.card"),
    ]
    assert ctx.data["form"] == {"ssn": "536-22-1234", "card": "4111 1111 1111 1111"}


async def test_redact_replaces_data_and_lists_paths(stage: DLPStage) -> None:
    ctx = _ctx({"patient": {"name": "Chloe Garcia", "mrn": "00203592"}, "note": "ok"})
    await run_stages(stage, [ctx])
    assert ctx.dlp_action == "redact"
    assert ctx.modified is True
    assert ctx.data == {
        "patient": {"name": "<PERSON>", "mrn": "<MEDICAL_RECORD_NUMBER>"},
        "note": "ok",
    }
    assert ctx.redacted_paths == ["$.patient.name", "$.patient.mrn"]
    assert {f.entity_type for f in ctx.dlp_findings} == {"PERSON", "MEDICAL_RECORD_NUMBER"}


async def test_alert_delivers_unchanged_and_records(stage: DLPStage) -> None:
    data = {"log": "sign-in from 203.0.113.7"}
    ctx = _ctx(dict(data))
    await run_stages(stage, [ctx])
    assert ctx.dlp_action == "alert"
    assert ctx.data == data
    assert ctx.modified is False
    assert [(f.entity_type, f.path, f.start, f.end) for f in ctx.dlp_findings] == [
        ("IP_ADDRESS", "$.log", 13, 24)
    ]


async def test_routes_decide_per_message_in_one_batch(stage: DLPStage) -> None:
    data = {"patient": {"name": "Chloe Garcia", "mrn": "00203592"}}
    to_doctor = _ctx(dict(data), ("patient", "agent"), ("doctors", "clinicians"))
    to_other = _ctx(dict(data), ("patient", "agent"), ("students",))
    to_external = _ctx(dict(data), ("doctor", "clinician"), ("analytics",))
    clean = _ctx({"text": "Balance this equation: Fe + O2 -> Fe2O3"})
    batch = [to_doctor, to_other, to_external, clean]
    await run_stages(stage, batch)
    assert (to_doctor.dlp_action, to_doctor.dlp_findings, to_doctor.modified) == (
        "allow",
        [],
        False,
    )
    assert to_doctor.dlp_route == "patient to clinician"
    assert to_other.dlp_action == "redact"
    assert isinstance(to_external.rejection, BlockedByDLP)
    assert clean.dlp_action == "allow" and clean.rejection is None


async def test_unscannable_payload_is_blocked(engine: DLPEngine) -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(engine.policy.engine.max_depth + 2):
        child: dict[str, object] = {}
        node["n"] = child
        node = child
    ctx = _ctx(deep)
    await run_stages(DLPStage(workers=0), [ctx])
    assert isinstance(ctx.rejection, BlockedByDLP)
    assert "nested deeper" in ctx.rejection.reason


async def test_no_sensitive_value_reaches_data_reason_or_logs(
    stage: DLPStage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blocked = _ctx({"ssn": "536-22-1234", "token": "ghp_xzgzCuAcL7g4uCt77ehIRhy5dau41Rd3hU18"})
    redacted = _ctx(
        {"patient": "Chloe Garcia", "mrn": "MRN 00203592", "card_hint": "4111 1111 1111 1111"}
    )
    redact_only = _ctx({"patient": "Chloe Garcia", "mrn": "MRN 00203592"})
    await run_stages(stage, [blocked, redacted, redact_only])
    first, second = blocked.rejection, redacted.rejection  # the card blocks the second too
    assert isinstance(first, BlockedByDLP) and isinstance(second, BlockedByDLP)
    audit = [
        build_audit_entry(ctx, gateway_id="gw-test", key_id="key-test").decode()
        for ctx in (blocked, redacted, redact_only)
    ]
    assert '"action":"block"' in audit[0]
    assert '"US_SSN":1' in audit[0]
    assert '"redacted_paths":["$.mrn","$.patient"]' in audit[2]
    exposed = [
        *audit,
        str(first),
        first.reason,
        str(second),
        repr(blocked.dlp_findings),
        repr(redacted.dlp_findings),
        repr(redact_only.dlp_findings),
        repr(redact_only.data),
        repr(redact_only.redacted_paths),
        repr(redact_only.dlp_route),
        caplog.text,
    ]
    for secret in SECRETS:
        for text in exposed:
            assert secret not in text
    assert redact_only.data == {"patient": "<PERSON>", "mrn": "MRN <MEDICAL_RECORD_NUMBER>"}


@pytest.mark.parametrize(
    "data",
    [
        {"patient": {"Jane_Roberts": "HIV positive"}},
        {"jane-roberts-hiv-positive": True},
        {"contacts": {"ann@example.org": "friend"}},
    ],
)
async def test_personal_data_in_keys_does_not_pass(
    stage: DLPStage, data: dict[str, object]
) -> None:
    """On a route that de-identifies (to external analytics), keys are scanned too."""
    ctx = _ctx(data, ("doctor", "clinician"), ("analytics",))
    await run_stages(stage, [ctx])
    assert ctx.dlp_findings, "a name or an e-mail address hid in a key"
    assert ctx.rejection is not None or ctx.modified
