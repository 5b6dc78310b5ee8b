"""The example systems and `mas demo` run offline on a local stack."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mas_gateway.cli import main
from mas_gateway.demo.scenario import run_scenario
from mas_gateway.devstack import DevStack

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from examples.chemistry_tutoring.agents import ProfessorAgent, StudentAgent  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Examples must not need an API key; make sure none leaks in from the environment."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_healthcare_scenario_shows_allowed_denied_and_limited(redis_url: str) -> None:
    lines: list[str] = []
    async with DevStack(redis_url=redis_url) as stack:
        result = await run_scenario(stack.agent_options(), lines.append)
        assert stack.gateway is not None
        counts = stack.gateway.counts
    assert "viral" in result.answers[0]
    assert "cardiac" in result.answers[1]
    denied_steps = {step for step, code, _reason in result.rejections if code == 403}
    assert denied_steps == {"patient->specialist", "external->doctor"}
    assert any(code == 429 for _step, code, _reason in result.rejections)
    assert counts["delivered"] >= 6 and counts["denied"] == 2 and counts["rate_limited"] >= 1
    assert counts["redacted"] == 1 and counts["blocked"] == 1
    assert any(code == 451 for _step, code, _reason in result.rejections)


async def test_chemistry_student_finds_the_professor_and_learns(redis_url: str) -> None:
    async with DevStack(redis_url=redis_url) as stack:
        professor = ProfessorAgent(**stack.agent_options())
        student = StudentAgent(**stack.agent_options())
        async with professor, student:
            answer = await student.ask("What is a mole?", "basics")
            assert "6.022e23" in answer
            assert student.state.questions == 1
            assert student.state.notes == [answer]
            assert professor.state.answered == 1


def test_mas_demo_exits_zero_and_prints_each_kind_of_decision(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--redis-url", redis_url]) == 0
    out = capsys.readouterr().out
    for mark in ("DELIVERED", "REDACTED", "BLOCKED", "DENIED", "RATE LIMITED"):
        assert mark in out
    assert "summary: " in out
    assert "audit log verified" in out
    password = urlsplit(redis_url).password
    assert password and password not in out  # the administrator's password is never printed


def test_audit_verify_after_a_demo_without_redis_reads_the_demo_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAS_REDIS_URL", raising=False)
    assert main(["demo", "--quiet"]) == 0
    assert (tmp_path / ".mas" / "demo" / "dump.rdb").is_file()
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("OK: ")
    assert "last `mas demo`'s data" in captured.err
    assert main(["compliance", "report", "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").is_file()
