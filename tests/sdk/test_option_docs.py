"""The README names every agent option."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from mas.options import AgentOptions

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_names_every_agent_option() -> None:
    missing = [f.name for f in fields(AgentOptions) if f"`{f.name}`" not in README]
    assert missing == [], f"README does not name the agent options {missing}"
