"""DLP fixtures: one engine (spaCy loaded once) per test session, and temporary policies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mas_gateway.dlp import DLPEngine

from .helpers import POLICIES, RECOGNIZERS


@pytest.fixture(scope="session")
def engine() -> DLPEngine:
    """The engine of policies/dlp.yaml, warmed up once for the session."""
    built = DLPEngine.from_policies(POLICIES)
    built.warm_up()
    return built


@pytest.fixture
def policy_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write a dlp.yaml that uses the repository's recognizers; returns its path."""

    def write(body: str) -> Path:
        file = tmp_path / "dlp.yaml"
        head = f"version: 1\nengine:\n  recognizers: [{RECOGNIZERS}]\nperformance:\n  workers: 0\n"
        file.write_text(head + body, encoding="utf-8")
        return file

    return write
