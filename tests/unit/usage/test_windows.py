"""Window arithmetic: days in a zone, calendar months, billing months anchored on the period start."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chartwise_runtime.errors import InvalidInput
from chartwise_usage.windows import (
    WindowCache,
    add_months,
    billing_month_span,
    calendar_month_span,
    day_span,
    windows_at,
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_adding_a_month_to_the_31st_lands_on_the_last_day_of_a_shorter_month() -> None:
    assert add_months(at(2026, 1, 31, 9), 1) == at(2026, 2, 28, 9)
    assert add_months(at(2028, 1, 31), 1) == at(2028, 2, 29)
    assert add_months(at(2026, 12, 15), 1) == at(2027, 1, 15)
    assert add_months(at(2026, 3, 15), -3) == at(2025, 12, 15)


def test_calendar_month_runs_from_the_first_to_the_first_in_utc() -> None:
    span = calendar_month_span(at(2026, 12, 31, 23, 59))

    assert (span.start, span.end) == (at(2026, 12, 1), at(2027, 1, 1))


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (at(2026, 11, 15, 10, 30), at(2026, 11, 15, 10, 30), at(2026, 12, 15, 10, 30)),
        (at(2026, 12, 15, 10, 29), at(2026, 11, 15, 10, 30), at(2026, 12, 15, 10, 30)),
        (at(2027, 3, 1), at(2027, 2, 15, 10, 30), at(2027, 3, 15, 10, 30)),
    ],
)
def test_billing_month_steps_whole_months_from_the_anchor(now: datetime, start: datetime, end: datetime) -> None:
    span = billing_month_span(now, at(2026, 11, 15, 10, 30))

    assert (span.start, span.end) == (start, end)


def test_billing_month_anchored_on_the_31st_follows_short_months() -> None:
    span = billing_month_span(at(2027, 2, 28, 12), at(2027, 1, 31))

    assert (span.start, span.end) == (at(2027, 2, 28), at(2027, 3, 31))


def test_a_day_in_a_zone_is_its_local_midnight_to_midnight_even_across_dst() -> None:
    span = day_span(at(2026, 3, 29, 12), "Europe/London")

    assert (span.start, span.end) == (at(2026, 3, 29, 0), at(2026, 3, 29, 23))


def test_an_unknown_zone_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        day_span(at(2026, 1, 1), "Nowhere/Special")


@pytest.mark.parametrize(
    ("time_zone", "anchor"),
    [("UTC", None), ("Europe/London", None), ("America/New_York", at(2026, 1, 31, 18))],
)
def test_cached_windows_are_those_computed_afresh_as_the_clock_moves_either_way(
    time_zone: str, anchor: datetime | None
) -> None:
    cache = WindowCache()
    # Across a DST change, a day boundary, a month-end, then back in time.
    moments = [
        at(2026, 3, 28, 23, 30),
        at(2026, 3, 29, 0, 30),
        at(2026, 3, 29, 22, 59),
        at(2026, 3, 29, 23, 1),
        at(2026, 3, 31, 23, 59),
        at(2026, 4, 1, 0, 0),
        at(2026, 3, 2, 12),
        at(2026, 3, 29, 0, 30),
    ]

    for now in moments:
        assert cache.at(now, time_zone=time_zone, billing_anchor=anchor) == windows_at(
            now, time_zone=time_zone, billing_anchor=anchor
        )


def test_cached_windows_are_kept_apart_per_zone_and_anchor() -> None:
    cache = WindowCache()
    now = at(2026, 6, 30, 23, 30)

    utc = cache.at(now, time_zone="UTC", billing_anchor=None)
    tokyo = cache.at(now, time_zone="Asia/Tokyo", billing_anchor=None)
    anchored = cache.at(now, time_zone="UTC", billing_anchor=at(2026, 5, 10))

    assert (utc.day.start, tokyo.day.start) == (at(2026, 6, 30), at(2026, 6, 30, 15))
    assert (utc.month.start, anchored.month.start) == (at(2026, 6, 1), at(2026, 6, 10))
