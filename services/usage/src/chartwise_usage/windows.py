"""Where each quota window starts and ends: day in the user's zone, calendar or billing month, lifetime."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chartwise_runtime.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """Identifies the window in storage: its start as whole UTC seconds."""
        return str(int(self.start.timestamp()))


@dataclass(frozen=True, slots=True)
class Windows:
    day: Span
    month: Span


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {name!r}", details={"time_zone": name}) from error


def day_span(now: datetime, time_zone: str) -> Span:
    """The local calendar day containing `now`, as UTC instants (23 or 25 hours long across DST changes)."""
    tz = zone(time_zone)
    local_date = now.astimezone(tz).date()
    start = datetime.combine(local_date, time(), tzinfo=tz)
    end = datetime.combine(local_date + timedelta(days=1), time(), tzinfo=tz)
    return Span(start.astimezone(UTC), end.astimezone(UTC))


def calendar_month_span(now: datetime) -> Span:
    utc = now.astimezone(UTC)
    start = datetime(utc.year, utc.month, 1, tzinfo=UTC)
    return Span(start, add_months(start, 1))


def billing_month_span(now: datetime, anchor: datetime) -> Span:
    """The month-long window, counted from the billing anchor, that contains `now`.

    Anchoring on the subscription's period start (and stepping whole months from it, the day clamped to the
    month's length as Stripe does) keeps the window right for yearly subscriptions and when a renewal
    webhook arrives late.
    """
    now, anchor = now.astimezone(UTC), anchor.astimezone(UTC)
    months = (now.year - anchor.year) * 12 + (now.month - anchor.month)
    start = add_months(anchor, months)
    if start > now:
        months -= 1
        start = add_months(anchor, months)
    return Span(start, add_months(anchor, months + 1))


def windows_at(now: datetime, *, time_zone: str, billing_anchor: datetime | None) -> Windows:
    month = billing_month_span(now, billing_anchor) if billing_anchor else calendar_month_span(now)
    return Windows(day=day_span(now, time_zone), month=month)


class WindowCache:
    """Remembers the windows per time zone and billing anchor while `now` stays inside them.

    Computing them costs zone arithmetic on every reservation; users share a few zones and anchors, and a
    window only changes at its end, so a cached answer is checked against both spans and recomputed when
    `now` falls outside either (forwards or backwards).
    """

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._cached: dict[tuple[str, datetime | None], Windows] = {}

    def at(self, now: datetime, *, time_zone: str, billing_anchor: datetime | None) -> Windows:
        key = (time_zone, billing_anchor)
        cached = self._cached.get(key)
        if cached is not None and _contains(cached.day, now) and _contains(cached.month, now):
            return cached
        windows = windows_at(now, time_zone=time_zone, billing_anchor=billing_anchor)
        if len(self._cached) >= self._max_entries:
            self._cached.clear()
        self._cached[key] = windows
        return windows


def _contains(span: Span, moment: datetime) -> bool:
    return span.start <= moment < span.end


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole months, keeping the day of month where it exists, else the month's last day."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
