"""The public API: `mas.__all__` lists exactly the public names, each importable."""

from __future__ import annotations

import types

import mas
from mas import errors


def test_all_matches_public_names() -> None:
    for name in mas.__all__:  # some are imported on first use
        getattr(mas, name)
    public = {
        name
        for name, value in vars(mas).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert public == set(mas.__all__)
    assert sorted(mas.__all__) == list(mas.__all__)


def test_seed_names_and_every_error_are_exported() -> None:
    assert {"Agent", "AgentMessage", "MASService"} <= set(mas.__all__)
    error_classes = {name for name in errors.__all__ if name != "rejection_for_code"}
    assert error_classes <= set(mas.__all__)
    for name in mas.__all__:
        assert getattr(mas, name) is not None
