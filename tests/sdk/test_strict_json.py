"""Strict envelope parsing: every construct JSON parsers disagree on is refused, by path."""

from __future__ import annotations

import json

import pytest

from mas.envelope import Envelope, dumps, parse_envelope
from mas.errors import MalformedMessage
from mas.strict_json import JSONRejected, loads_strict


def submitted(**data: object) -> bytes:
    envelope = Envelope(sender_id="patient", target_id="doctor", message_type="t", data=data)
    return dumps(envelope.model_dump(mode="json"))


def rejected(raw: bytes) -> str:
    with pytest.raises(MalformedMessage) as info:
        parse_envelope(raw)
    return info.value.reason


def test_sdk_bytes_parse_back_to_the_same_envelope() -> None:
    raw = submitted(text="héllo 😀", n=3, f=0.1, nested={"a": [1, {"b": None}]})
    assert dumps(parse_envelope(raw).model_dump(mode="json")) == raw


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        (b'"data":{', b'"data":{"ssn":"123-45-6789"},"data":{', "$.data"),
        (b'"x":"ok"', b'"x":"123-45-6789","x":"ok"', "$.data.x"),
        (b'"x":"ok"', b'"x":[{"k":1,"k":2}]', "$.data.x[0].k"),
        (b'"x":"ok"', b'"x":{"123-45-6789":1,"123-45-6789":2}', "$.data.x[#1]"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_path_not_the_value(
    old: bytes, new: bytes, path: str
) -> None:
    raw = submitted(x="ok").replace(old, new, 1)
    assert json.loads(raw)  # the standard parser would take it, keeping the last value
    reason = rejected(raw)
    assert f"duplicate JSON key {path}" in reason
    assert "6789" not in reason


@pytest.mark.parametrize(
    ("literal", "problem"),
    [
        (b"NaN", "NaN"),
        (b"Infinity", "Infinity"),
        (b"-Infinity", "-Infinity"),
        (b"1e999", "overflows to infinity"),
        (b"-1e999", "overflows to infinity"),
        (b"1e-999", "underflows to zero"),
        (b"0.12345678901234567891", "significant digits"),
    ],
)
def test_numbers_that_are_not_what_their_bytes_say_are_refused(
    literal: bytes, problem: str
) -> None:
    raw = submitted(x=1.5)
    assert raw.count(b'"x":1.5') == 1  # only the data field changes, never the timestamp
    reason = rejected(raw.replace(b'"x":1.5', b'"x":' + literal))
    assert problem in reason and "$.data.x" in reason


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"1e999", b"-1e999"])
def test_non_finite_timestamps_are_refused(literal: bytes) -> None:
    raw = submitted()
    stamp = str(json.loads(raw)["timestamp"]).encode()
    assert "timestamp" in rejected(raw.replace(stamp, literal))


@pytest.mark.parametrize(
    ("value", "hint"),
    [(-1.0, ""), (0, ""), (1e9 - 1e8, ""), (4.2e9, ""), (1.7e12, "milliseconds"), (1e300, "")],
)
def test_absurd_timestamps_are_refused(value: float, hint: str) -> None:
    obj = json.loads(submitted())
    obj["timestamp"] = value
    reason = rejected(dumps(obj))
    assert "timestamp must be Unix seconds" in reason and hint in reason


def test_a_timestamp_cannot_be_built_non_finite_in_the_sdk_either() -> None:
    with pytest.raises(ValueError, match="finite"):
        Envelope(sender_id="a", target_id="b", message_type="t", timestamp=float("nan"))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\xef\xbb\xbf{}", "byte order mark"),
        ('{"v":1}'.encode("utf-16"), "not valid UTF-8"),
        ('{"v":1}'.encode("utf-32-le"), "not valid JSON"),
        (b'{"x":"\xed\xa0\x80"}', "not valid UTF-8"),
        (b'{"x":"\xc0\xaf"}', "not valid UTF-8"),
        (b'{"x":"\\ud800"}', "lone surrogate"),
        (b'{"x":["\\udc00x"]}', "lone surrogate"),
        (b'{"\\ud800":1}', "lone surrogate"),
        (b"[" * 65 + b"]" * 65, "deeper than 64"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper than 64"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "deeper than 64"),
        (b'{"x":' + b"1" * 5000 + b"}", "more than 4300 digits"),
        (b'{"x":1,}', "not valid JSON"),
    ],
)
def test_encodings_escapes_and_depth_are_strict(raw: bytes, problem: str) -> None:
    with pytest.raises(JSONRejected, match=problem):
        loads_strict(raw)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-32-le"])
def test_no_encoding_is_guessed(codec: str) -> None:
    raw = submitted().decode().encode(codec)
    assert json.loads(raw)  # the standard parser detects the encoding
    assert "not strict JSON" in rejected(raw)


def test_valid_surrogate_pairs_and_the_depth_limit_itself_are_accepted() -> None:
    assert loads_strict(b'{"x":"\\ud83d\\ude00"}') == {"x": "😀"}
    assert loads_strict(b"[" * 64 + b"]" * 64) is not None
    assert loads_strict(b'{"x":"\\\\ud800"}') == {"x": "\\ud800"}  # an escaped backslash


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", True),
        ("v", 1.0),
        ("timestamp", "1800000000"),
        ("timestamp", True),
        ("expects_reply", 1),
        ("data", []),
    ],
)
def test_fields_must_have_their_exact_type(field: str, value: object) -> None:
    obj = json.loads(submitted())
    obj[field] = value
    assert field in rejected(dumps(obj))


def test_unknown_fields_are_counted_not_named() -> None:
    obj = json.loads(submitted())
    obj["123-45-6789"] = 1
    reason = rejected(dumps(obj))
    assert "1 unknown field(s)" in reason and "6789" not in reason
