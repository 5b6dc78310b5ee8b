"""The report period (``--since``) and the time buckets of the decisions chart."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mas.errors import ConfigError

__all__ = ["BUCKET_SIZES", "Period", "bucket_size", "iso", "parse_since"]

_RELATIVE = re.compile(r"^(\d{1,6})([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

BUCKET_SIZES = (1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
"""Chart bucket widths in seconds; the smallest that keeps the chart readable is used."""
MAX_BUCKETS = 60


@dataclass(frozen=True)
class Period:
    """Decisions with `since <= time < until` (epoch seconds) are in the report."""

    since: float
    until: float

    def contains(self, when: float) -> bool:
        """True when `when` falls in the period."""
        return self.since <= when < self.until


def iso(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC timestamp."""
    return (
        dt.datetime.fromtimestamp(epoch, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def parse_since(text: str, *, now: float) -> float:
    """`2026-01-31`, `2026-01-31T08:00:00Z` (UTC when no zone) or `7d`, `12h`, `30m`: epoch.

    Raises:
        ConfigError: the text is none of those, or lies in the future.
    """
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        since = now - int(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
    else:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"--since {text!r} is not a date: use 2026-01-31, 2026-01-31T08:00:00Z or 7d"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        since = parsed.timestamp()
    if since > now:
        raise ConfigError(f"--since {text!r} is in the future")
    return since


def bucket_size(first: float, last: float) -> int:
    """The smallest bucket width giving at most `MAX_BUCKETS` buckets between the two times."""
    span = max(0.0, last - first)
    for size in BUCKET_SIZES:
        if span / size < MAX_BUCKETS:
            return size
    return BUCKET_SIZES[-1]
