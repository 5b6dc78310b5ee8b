"""Open a report in headless Chromium and read back the DOM its scripts produced."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The Chromium binary; fails the test (never skips) when none is installed."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "headless Chromium is needed to check that the compliance report's charts render: "
        "install it (Debian: apt-get install -y chromium); .ci/run installs it when missing",
        pytrace=False,
    )


async def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of `page` (an absolute path) after its scripts ran, with networking off."""
    return await dump_url(page.as_uri(), profile)


async def dump_url(url: str, profile: Path, *extra: str) -> str:
    """The DOM of the page at `url` after its scripts ran (`extra`: more Chromium flags)."""
    return (await _headless(url, profile, *extra, "--dump-dom")).decode("utf-8")


async def screenshot(url: str, profile: Path, out: Path, *extra: str) -> Path:
    """Render the page at `url` to the PNG file `out` (`extra`: e.g. ``--window-size=W,H``)."""
    await _headless(url, profile, *extra, f"--screenshot={out}")
    return out


async def _headless(url: str, profile: Path, *extra: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *extra,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


@dataclass
class Chart:
    """One drawn chart: its SVG attributes and the attributes of each data bar."""

    attrs: dict[str, str]
    bars: list[dict[str, str]] = field(default_factory=list[dict[str, str]])

    @property
    def total(self) -> int:
        """Sum of the bars' values."""
        return sum(int(bar["data-value"]) for bar in self.bars)


class ChartParser(HTMLParser):
    """Collects every `<svg data-chart>` and the `rect.bar` elements inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, Chart] = {}
        self._current: Chart | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "svg" and "data-chart" in values:
            self._current = Chart(values)
            self.charts[values["data-chart"]] = self._current
            self._depth = 0
        if self._current is None:
            return
        if tag == "svg":
            self._depth += 1
        if tag == "rect" and "bar" in values.get("class", "").split():
            self._current.bars.append(values)

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and tag == "svg":
            self._depth -= 1
            if self._depth == 0:
                self._current = None


def charts_in(dom: str) -> dict[str, Chart]:
    """The charts drawn in a DOM dump, by kind."""
    parser = ChartParser()
    parser.feed(dom)
    return parser.charts
