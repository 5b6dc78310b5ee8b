"""Default locations, importable without the settings' dependencies."""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_policies_dir"]


def default_policies_dir() -> Path:
    """`policies/` of the current directory, else of the repository this package runs from."""
    here = Path.cwd() / "policies"
    if here.is_dir():
        return here
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "policies"
        if (candidate / "model.conf").is_file():
            return candidate
    return here
