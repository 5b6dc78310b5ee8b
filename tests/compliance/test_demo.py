"""After the real demo (gateway, agents, audit stage), the report tells what the gateway did."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from mas_gateway.cli import main

from .browser import charts_in, chromium, dump_dom
from .helpers import CONTROLS_FILE

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.subprocess]


def demo_summary(output: str) -> dict[str, int]:
    """The decision counts the demo printed (`summary: delivered=13, denied=2, ...`)."""
    [line] = [line for line in output.splitlines() if line.startswith("summary: ")]
    pairs = re.findall(r"(\w+)=(\d+)", line)
    return {name: int(count) for name, count in pairs}


async def test_the_report_after_the_demo_matches_it_and_renders(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chromium()
    assert await asyncio.to_thread(main, ["demo", "--redis-url", redis_url, "--quiet"]) == 0
    summary = demo_summary(capsys.readouterr().out)
    assert {"delivered", "denied", "rate_limited"} <= set(summary)

    out = tmp_path / "out"
    argv = ["compliance", "report", "--since", "1h", "--out", str(out)]
    code = await asyncio.to_thread(
        main, [*argv, "--redis-url", redis_url, "--controls", str(CONTROLS_FILE)]
    )
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))

    assert code == (0 if document["summary"]["fail"] == 0 else 1)
    assert document["decisions"]["by_decision"] == summary
    audit = document["audit_verification"]
    assert audit["ok"], audit["findings"]
    assert audit["entries"] == sum(summary.values()) and audit["checkpoints"] >= 1
    controls = {control["id"]: control for control in document["controls"]}
    assert controls["HIPAA 164.312(b)"]["status"] == "pass"
    assert document["policy"]["tests"]["failed"] == 0
    # the demo provisions its agents itself, so a person must vouch for their identities
    assert controls["HIPAA 164.312(d)"]["status"] == "manual"
    assert sum(d["count"] for d in document["denials_by_rule"]) == summary["denied"]

    charts = charts_in(await dump_dom(out / "report.html", tmp_path / "profile"))
    assert charts["timeline"].total == sum(summary.values())
    assert charts["denials"].total == summary["denied"]
    dlp_total = sum(d["count"] for d in document["dlp_findings_by_entity"])
    assert int(charts["dlp"].attrs["data-total"]) == dlp_total
