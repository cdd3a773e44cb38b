"""Fixtures for the usage service against real Redis and MongoDB, with a clock the tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from chartwise_runtime.mongo import Database
from chartwise_usage.bootstrap import Usage, bootstrap, connect_redis
from chartwise_usage.plans import DEFAULT_TIERS, Tier

WEBHOOK_SECRET = "whsec_test_secret"


class MovableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))


@pytest.fixture
async def text_redis(redis: Redis, redis_url: str) -> AsyncIterator[Redis]:
    """A client that decodes replies, on the database the `redis` fixture has just flushed."""
    client = connect_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def tiers() -> tuple[Tier, ...]:
    return DEFAULT_TIERS


@pytest.fixture
def usage(text_redis: Redis, mongo_db: Database, clock: MovableClock, tiers: tuple[Tier, ...]) -> Usage:
    return bootstrap(
        redis=text_redis,
        db=mongo_db,
        clock=clock,
        tiers=tiers,
        reservation_ttl=timedelta(minutes=10),
        webhook_secret=WEBHOOK_SECRET,
    )
