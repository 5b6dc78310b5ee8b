"""--since parsing and chart buckets."""

from __future__ import annotations

import datetime as dt

import pytest

from mas.errors import ConfigError
from mas_gateway.compliance.period import bucket_size, iso, parse_since

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - 7 * 86400),
        ("12h", NOW - 12 * 3600),
        ("30m", NOW - 1800),
        ("2w", NOW - 14 * 86400),
        ("2026-03-01", dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()),
        ("2026-03-01T08:30:00Z", dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC).timestamp()),
        (
            "2026-03-01T08:30:00+02:00",
            dt.datetime(2026, 3, 1, 6, 30, tzinfo=dt.UTC).timestamp(),
        ),
    ],
)
def test_since_accepts_dates_and_durations(text: str, expected: float) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [("yesterday", "is not a date"), ("7y", "is not a date"), ("2026-04-01", "in the future")],
)
def test_since_refuses_other_text(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_since(text, now=NOW)


def test_buckets_keep_the_chart_readable() -> None:
    assert bucket_size(NOW, NOW) == 1
    assert bucket_size(NOW, NOW + 59) == 1
    assert bucket_size(NOW, NOW + 200) == 5
    assert bucket_size(NOW, NOW + 86400) == 3600
    assert bucket_size(NOW, NOW + 365 * 86400) == 7 * 86400
    assert iso(NOW) == "2026-03-10T12:00:00Z"
