"""`mas agent ...` and `mas gateway keygen`: operator provisioning end to end, with the SDK."""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas import Agent, AgentMessage, Unauthenticated
from mas_gateway import GatewayService
from mas_gateway.cli import main

from .helpers import REPO_POLICIES, gateway_settings


class Doctor(Agent):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("doctor", **kwargs)  # type: ignore[arg-type]
        self.questions: asyncio.Queue[str] = asyncio.Queue()

    @Agent.on("consultation.request")
    async def consult(self, message: AgentMessage, payload: None) -> None:
        await self.questions.put(str(message.data["question"]))
        await message.reply("consultation.response", {"answer": "rest"})


async def cli(*args: str) -> int:
    """Run the `mas` CLI (which runs its own event loop) from an async test."""
    return await asyncio.to_thread(main, list(args))


def _gateway_key(tmp_path: Path) -> Path:
    """The gateway's signing key, created once per test like an operator would."""
    key = tmp_path / "gateway.key"
    if not key.exists():
        assert main(["gateway", "keygen", "--out", str(key)]) == 0
    return key


def _provision(redis_url: str, agent_id: str, out: Path, *roles: str) -> dict[str, str]:
    role_args = [arg for role in roles for arg in ("--role", role)]
    pub = _gateway_key(out.parent).with_name("gateway.key.pub")
    assert main(["agent", "provision", agent_id, *role_args, "--out", str(out),
                 "--gateway-key", str(pub), "--redis-url", redis_url]) == 0  # fmt: skip
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    return json.loads(out.read_text())


async def test_operator_provisioned_agents_talk_through_a_strict_gateway(
    redis_client: aioredis.Redis,
    redis_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = _gateway_key(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    settings = gateway_settings(redis_url, tmp_path, auto_provision=False, signing_key_path=key)
    async with GatewayService(settings) as gateway:
        patient_file = tmp_path / "patient.json"
        creds = await asyncio.to_thread(_provision, redis_url, "patient", patient_file)
        await asyncio.to_thread(_provision, redis_url, "doctor", tmp_path / "doctor.json")
        assert creds["agent_id"] == "patient"
        assert creds["gateway_keys"] == {gateway.key.key_id: gateway.key.public_key_b64}

        doctor = Doctor(credentials=str(tmp_path / "doctor.json"), redis_url=redis_url)
        patient = Agent("patient", credentials=str(patient_file), redis_url=redis_url)
        async with doctor, patient:
            reply = await patient.request(
                "doctor", "consultation.request", {"question": "cough"}, timeout=10
            )
            assert reply.data == {"answer": "rest"}
            assert reply.sender_verified

            capsys.readouterr()
            assert await cli("agent", "show", "patient", "--json", "--redis-url", redis_url) == 0
            shown = json.loads(capsys.readouterr().out)
            assert "token_hash" not in shown and shown["provisioned_by"] == "operator"
            assert shown["status"] == "ACTIVE" and len(shown["instances"]) == 1
            assert shown["revoked"] is False and shown["heartbeat_age_s"] >= 0

            assert await cli("agent", "show", "patient", "--redis-url", redis_url) == 0
            text = capsys.readouterr().out
            assert "status:" in text and "provisioned:" in text and "by operator" in text
            assert "token" not in text

            assert await cli("agent", "revoke", "patient", "--redis-url", redis_url) == 0
            with pytest.raises(Unauthenticated):
                await patient.request(
                    "doctor", "consultation.request", {"question": "x"}, timeout=10
                )


async def test_rotated_token_is_written_to_the_credential_file(
    redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "patient.json"
    before = await asyncio.to_thread(_provision, redis_url, "patient", out, "patient")
    rotate = ["agent", "rotate-token", "patient", "--out", str(out), "--redis-url", redis_url]
    assert await cli(*rotate) == 0
    after = json.loads(out.read_text())
    assert after["token"] != before["token"]
    assert after["private_key"] == before["private_key"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_provisioning_refuses_reserved_ids_and_existing_keys(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agent", "provision", "mas.gateway", "--out", str(tmp_path / "x.json"),
                 "--redis-url", redis_url]) == 2  # fmt: skip
    assert "invalid agent id" in capsys.readouterr().err
    _provision(redis_url, "patient", tmp_path / "p.json")
    assert main(["agent", "provision", "patient", "--out", str(tmp_path / "p2.json"),
                 "--gateway-key", str(_gateway_key(tmp_path)),
                 "--redis-url", redis_url]) == 2  # fmt: skip
    assert "already has a key" in capsys.readouterr().err


def test_gateway_refuses_to_start_without_its_key(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["gateway", "--redis-url", redis_url, "--signing-key",
                 str(tmp_path / "missing.key")])  # fmt: skip
    assert code == 2
    assert "mas gateway keygen" in capsys.readouterr().err


def test_gateway_refuses_to_start_on_an_invalid_policy_naming_file_and_line(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    with (policies / "policy.csv").open("a", encoding="utf-8") as f:
        f.write("p, patient, doctors\n")  # too few fields
    lines = (policies / "policy.csv").read_text(encoding="utf-8").splitlines()
    code = main(["gateway", "--redis-url", redis_url, "--policies", str(policies),
                 "--signing-key", str(tmp_path / "k"), "--auto-provision"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert f"policy.csv:{len(lines)}" in err
