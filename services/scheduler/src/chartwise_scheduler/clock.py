"""The scheduler's notion of now, injectable so schedules can be tested without waiting."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now_ms = to_ms(start)

    def now_ms(self) -> int:
        return self._now_ms

    def set(self, at: datetime) -> None:
        self._now_ms = to_ms(at)

    def advance_ms(self, ms: int) -> None:
        self._now_ms += ms


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
