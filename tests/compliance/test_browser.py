"""The report's charts are drawn by its inline script in a real browser (headless Chromium)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from mas_gateway.cli import main

from .browser import charts_in, chromium, dump_dom
from .helpers import CONTROLS_FILE, populate

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]


async def test_chromium_draws_every_chart_from_the_embedded_data(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    chromium()  # fail first, with the reason, when no browser is installed
    populated = await populate(redis_client)
    out = tmp_path / "out"
    argv = ["compliance", "report", "--since", "1h", "--out", str(out)]
    argv += ["--redis-url", redis_url, "--controls", str(CONTROLS_FILE)]
    assert await asyncio.to_thread(main, argv) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" not in html  # every chart comes from the script, none from the server
    assert 'http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in html

    dom = await dump_dom(out / "report.html", tmp_path / "profile")
    charts = charts_in(dom)

    assert set(charts) == {"timeline", "denials", "dlp"}
    for kind, chart in charts.items():
        assert chart.attrs["data-drawn"] == "true", kind
        assert "data-empty" not in chart.attrs, kind
        assert chart.bars and all(int(bar["data-value"]) > 0 for bar in chart.bars), kind
        assert int(chart.attrs["data-total"]) == chart.total, kind

    timeline = charts["timeline"]
    assert timeline.total == populated.total
    per_decision: Counter[str] = Counter()
    for bar in timeline.bars:
        per_decision[bar["data-series"]] += int(bar["data-value"])
        assert float(bar["height"]) > 0
    assert per_decision == populated.by_decision
    assert len({bar["data-bucket"] for bar in timeline.bars}) == populated.total

    denials = {bar["data-label"]: int(bar["data-value"]) for bar in charts["denials"].bars}
    assert denials == dict(populated.denials_by_rule)
    dlp = {bar["data-label"]: int(bar["data-value"]) for bar in charts["dlp"].bars}
    assert dlp == dict(populated.entities)
    widths = {bar["data-label"]: float(bar["width"]) for bar in charts["dlp"].bars}
    assert widths["PERSON"] > widths["EMAIL_ADDRESS"] > widths["CREDIT_CARD"] > 0

    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert dom.count('data-rendered="true"') == 3
    assert document["decisions"]["total"] == populated.total
