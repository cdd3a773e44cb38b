"""Time as the store keeps it: aware UTC, truncated to the millisecond MongoDB stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def stored_time(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond - at.microsecond % 1000)


def system_clock() -> datetime:
    return stored_time(datetime.now(UTC))
