"""Payload walking: texts with locations, key context, safe paths, limits, replacement."""

from __future__ import annotations

import pytest

from mas_gateway.dlp.engine.payload import (
    ScanLimitExceeded,
    apply_replacements,
    humanize_key,
    render_path,
    walk,
)


def test_walk_yields_strings_and_integers_with_context() -> None:
    payload = {"patient": {"dateOfBirth": "1950-01-02", "visits": [{"mrn": 1234567}]}, "ok": True}
    segs = walk(payload)
    assert [(s.loc, s.text, s.context) for s in segs if not s.is_key] == [
        (("patient", "dateOfBirth"), "1950-01-02", "patient date of birth"),
        (("patient", "visits", 0, "mrn"), "1234567", "visits mrn"),
    ]
    # Keys are scanned too, as the words they hold, after the values (which stay neighbours).
    assert [s.text for s in segs if s.is_key] == ["patient", "date Of Birth", "visits", "mrn", "ok"]
    assert [s.is_key for s in segs] == [False] * 2 + [True] * 5


def test_unsafe_keys_are_scanned_and_shown_by_position() -> None:
    payload = {"contacts": {"ann@example.org": "friend"}}
    segs = walk(payload)
    key = next(s for s in segs if s.is_key and s.loc == ("contacts", "ann@example.org"))
    assert key.text == "ann@example.org"
    assert render_path(key.loc, key.positions) == "$.contacts[#0]"
    value = next(s for s in segs if not s.is_key)
    assert render_path(value.loc, value.positions) == "$.contacts[#0]"
    assert render_path(("contacts",), (0,), {("contacts",)}) == "$[#0]"


def test_paths_use_indexes_for_lists() -> None:
    assert render_path(("items", 2, "name"), (0, 2, 1)) == "$.items[2].name"


@pytest.mark.parametrize(
    ("payload", "limits", "message"),
    [
        ({"a": "x" * 50}, {"max_chars": 10}, "characters"),
        ({"a": ["x"] * 5}, {"max_segments": 3}, "values"),
        ({"a": {"b": {"c": {"d": "x"}}}}, {"max_depth": 2}, "deeper"),
    ],
)
def test_limits_raise(payload: object, limits: dict[str, int], message: str) -> None:
    with pytest.raises(ScanLimitExceeded, match=message):
        walk(payload, **limits)


def test_apply_replacements_copies_and_replaces_values_and_keys() -> None:
    payload = {"a": ["x", {"b": "secret"}], "k@x.org": 5}
    out = apply_replacements(payload, {("a", 1, "b"): "<X>"}, {("k@x.org",): "<EMAIL>"})
    assert out == {"a": ["x", {"b": "<X>"}], "<EMAIL>": 5}
    assert payload["a"][1]["b"] == "secret"


def test_humanize_key() -> None:
    assert humanize_key("providerNPI") == "provider npi"
    assert humanize_key("date_of-birth") == "date of birth"
