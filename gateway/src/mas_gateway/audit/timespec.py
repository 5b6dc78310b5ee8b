"""Parse the times the audit commands take: ISO dates, epoch seconds or ``7d``-style ages."""

from __future__ import annotations

import datetime as dt
import re
import time

from mas.errors import ConfigError

__all__ = ["format_time", "parse_time"]

_AGE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, *, option: str = "time", now: float | None = None) -> float:
    """Epoch seconds of ``2026-01-31``, ``2026-01-31T08:00:00Z`` (UTC if no zone),
    ``1767225600`` or an age such as ``7d``, ``12h``, ``30m`` (that long ago).

    Raises:
        ConfigError: the text is none of those; the message names `option`.
    """
    value = text.strip()
    age = _AGE.match(value)
    if age:
        return (time.time() if now is None else now) - int(age.group(1)) * _UNIT[age.group(2)]
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a time: use 2026-01-31, 2026-01-31T08:00:00Z, "
            "epoch seconds, or an age such as 7d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def format_time(epoch: float) -> str:
    """ISO 8601 UTC with milliseconds."""
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
