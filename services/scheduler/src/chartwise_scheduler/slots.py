"""When a schedule's slots fall: cron patterns in a time zone, or fixed intervals from an anchor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from chartwise_contracts.scheduler import ScheduleSpec
from chartwise_runtime.errors import InvalidInput
from chartwise_scheduler.clock import from_ms, to_ms


def validate_timing(spec: ScheduleSpec) -> None:
    try:
        ZoneInfo(spec.tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {spec.tz!r}") from error
    if spec.cron is not None and not croniter.is_valid(spec.cron, second_at_beginning=_has_seconds(spec.cron)):
        raise InvalidInput(f"invalid cron pattern {spec.cron!r}")


def timing_fingerprint(spec: ScheduleSpec) -> str:
    """What makes two versions of a schedule fire at the same slots; the job template is not part of it."""
    return json.dumps(
        spec.model_dump(mode="json", include={"queue", "cron", "tz", "every_ms", "start_at", "end_at", "limit"}),
        sort_keys=True,
    )


def _has_seconds(cron: str) -> bool:
    return len(cron.split()) == 6


@dataclass(frozen=True)
class Slots:
    """The slot sequence of one schedule; `anchor_ms` is where an interval counts from."""

    spec: ScheduleSpec
    anchor_ms: int

    @property
    def _start_ms(self) -> int | None:
        return to_ms(self.spec.start_at) if self.spec.start_at else None

    @property
    def _end_ms(self) -> int | None:
        return to_ms(self.spec.end_at) if self.spec.end_at else None

    def first_at_or_after(self, t_ms: int) -> int | None:
        start = self._start_ms
        t_ms = max(t_ms, start) if start is not None else t_ms
        slot = self._cron_at_or_after(t_ms) if self.spec.cron else self._interval_at_or_after(t_ms)
        end = self._end_ms
        return None if end is not None and slot > end else slot

    def first_after(self, t_ms: int) -> int | None:
        return self.first_at_or_after(t_ms + 1)

    def latest_at_or_before(self, t_ms: int) -> int | None:
        end = self._end_ms
        t_ms = min(t_ms, end) if end is not None else t_ms
        slot = self._cron_at_or_before(t_ms) if self.spec.cron else self._interval_at_or_before(t_ms)
        start = self._start_ms
        if slot is None or (start is not None and slot < start):
            return None
        return slot

    def _cron(self, at_ms: int) -> croniter:
        assert self.spec.cron is not None
        start = from_ms(at_ms).astimezone(ZoneInfo(self.spec.tz))
        return croniter(self.spec.cron, start, second_at_beginning=_has_seconds(self.spec.cron))

    def _cron_at_or_after(self, t_ms: int) -> int:
        return to_ms(self._cron(t_ms - 1).get_next(datetime))

    def _cron_at_or_before(self, t_ms: int) -> int:
        return to_ms(self._cron(t_ms + 1).get_prev(datetime))

    def _interval_at_or_after(self, t_ms: int) -> int:
        every = self._every
        if t_ms <= self.anchor_ms:
            return self.anchor_ms
        return self.anchor_ms + -(-(t_ms - self.anchor_ms) // every) * every

    def _interval_at_or_before(self, t_ms: int) -> int | None:
        if t_ms < self.anchor_ms:
            return None
        return self.anchor_ms + (t_ms - self.anchor_ms) // self._every * self._every

    @property
    def _every(self) -> int:
        assert self.spec.every_ms is not None
        return self.spec.every_ms


@dataclass(frozen=True)
class SlotClaim:
    fire_ms: int
    next_ms: int | None


def plan_claim(slots: Slots, *, stored_next_ms: int, runs: int, now_ms: int) -> SlotClaim:
    """Which slot to fire now that `stored_next_ms` is due, and the one after it.

    After downtime only the latest missed slot fires (once), unless the schedule asks to catch up, when each
    missed slot fires in turn.
    """
    if slots.spec.catch_up:
        fire = stored_next_ms
        after = fire
    else:
        latest = slots.latest_at_or_before(now_ms)
        fire = max(latest, stored_next_ms) if latest is not None else stored_next_ms
        after = max(fire, now_ms)
    limit = slots.spec.limit
    if limit is not None and runs + 1 >= limit:
        return SlotClaim(fire_ms=fire, next_ms=None)
    return SlotClaim(fire_ms=fire, next_ms=slots.first_after(after))
