"""The W3C Trace Context (level 1) grammar an envelope's ``trace`` must follow.

Only ``traceparent`` (version 00) and ``tracestate`` are allowed, so the trace section
cannot carry free text: ids are lower-case hex and not all zeros, and tracestate is a
list of at most 32 ``key=value`` members, 512 characters in all, with unique keys.
Errors name the rule broken, never the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "MAX_TRACESTATE_CHARS",
    "MAX_TRACESTATE_MEMBERS",
    "TRACE_KEYS",
    "check_trace",
    "check_traceparent",
    "check_tracestate",
]

TRACE_KEYS = ("traceparent", "tracestate")
MAX_TRACESTATE_MEMBERS = 32
MAX_TRACESTATE_CHARS = 512

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_KEY_CHARS = r"[a-z0-9_\-*/]"
_MEMBER_KEY = re.compile(
    rf"[a-z]{_KEY_CHARS}{{0,255}}|[a-z0-9]{_KEY_CHARS}{{0,240}}@[a-z]{_KEY_CHARS}{{0,13}}"
)
_MEMBER_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_OWS = " \t"


def check_traceparent(value: str) -> None:
    """Raise ValueError unless `value` is a version-00 traceparent with non-zero ids."""
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        raise ValueError(
            "traceparent must be 00-<32 lower-case hex trace id>-<16 hex parent id>-<2 hex flags>"
        )
    trace_id, parent_id = match.groups()
    if trace_id == "0" * 32:
        raise ValueError("traceparent trace id must not be all zeros")
    if parent_id == "0" * 16:
        raise ValueError("traceparent parent id must not be all zeros")


def check_tracestate(value: str) -> None:
    """Raise ValueError unless `value` follows the W3C tracestate list grammar and limits."""
    if len(value) > MAX_TRACESTATE_CHARS:
        raise ValueError(f"tracestate is longer than {MAX_TRACESTATE_CHARS} characters")
    keys: set[str] = set()
    for position, raw in enumerate(value.split(",")):
        member = raw.strip(_OWS)
        if not member:
            continue  # empty list members are allowed
        key, sep, item = member.partition("=")
        if not sep or _MEMBER_KEY.fullmatch(key) is None:
            raise ValueError(f"tracestate member {position + 1} has no valid key=value form")
        if _MEMBER_VALUE.fullmatch(item) is None:
            raise ValueError(f"tracestate member {position + 1} has an invalid value")
        if key in keys:
            raise ValueError(f"tracestate member {position + 1} repeats a key")
        keys.add(key)
    if len(keys) > MAX_TRACESTATE_MEMBERS:
        raise ValueError(f"tracestate has more than {MAX_TRACESTATE_MEMBERS} members")


def check_trace(trace: Mapping[str, object]) -> None:
    """Raise ValueError unless `trace` holds only a valid traceparent and tracestate."""
    unknown = [k for k in trace if k not in TRACE_KEYS]
    if unknown:
        raise ValueError(
            f"trace may hold only traceparent and tracestate ({len(unknown)} other key(s))"
        )
    for key, value in trace.items():
        if not isinstance(value, str):
            raise ValueError(f"trace.{key} must be a string")
    parent, state = trace.get("traceparent"), trace.get("tracestate")
    if isinstance(parent, str):
        check_traceparent(parent)
    if isinstance(state, str):
        if parent is None:
            raise ValueError("trace.tracestate is only allowed with a traceparent")
        check_tracestate(state)
