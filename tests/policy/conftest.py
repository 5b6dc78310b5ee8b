"""Fixtures for the policy tests: a private copy of the repository's `policies/`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A copy of the repository's policy files that a test may edit."""
    target = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, target)
    return target


def replace_line(path: Path, old: str, new: str) -> None:
    """Replace the one line equal to `old` (fails the test when it is not there exactly once)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines.count(old) == 1, f"{old!r} occurs {lines.count(old)} times in {path.name}"
    lines[lines.index(old)] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    """1-based number of the line equal to `text`."""
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1
