"""Fixtures: job and schedule stores on the real Redis, with a system or a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from chartwise_scheduler.clock import ManualClock, SystemClock
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore
from chartwise_scheduler.timer import Timer


@pytest.fixture
async def text_redis(redis: Redis, redis_url: str) -> AsyncIterator[Redis]:
    """A decoding client on the database the `redis` fixture has just flushed."""
    client: Redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))


@pytest.fixture
def store(text_redis: Redis) -> JobStore:
    return JobStore(text_redis, SystemClock())


@pytest.fixture
def schedules(store: JobStore) -> ScheduleStore:
    return ScheduleStore(store.redis, store.clock, store.scripts, store.keys)


@pytest.fixture
def manual_store(text_redis: Redis, manual_clock: ManualClock) -> JobStore:
    return JobStore(text_redis, manual_clock)


@pytest.fixture
def manual_schedules(manual_store: JobStore) -> ScheduleStore:
    return ScheduleStore(manual_store.redis, manual_store.clock, manual_store.scripts, manual_store.keys)


@pytest.fixture
def manual_timer(manual_store: JobStore, manual_schedules: ScheduleStore, manual_clock: ManualClock) -> Timer:
    return Timer(manual_store, manual_schedules, manual_clock)


@pytest.fixture
async def running_timer(store: JobStore, schedules: ScheduleStore) -> AsyncIterator[Timer]:
    timer = Timer(store, schedules, store.clock)
    await timer.start(store.redis)
    try:
        yield timer
    finally:
        await timer.stop()
