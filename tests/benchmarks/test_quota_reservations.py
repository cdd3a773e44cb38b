"""Quota reservations per second through the usage service's reservation path; writes its docs section."""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from chartwise_runtime.mongo import Database
from chartwise_usage.bootstrap import bootstrap, connect_redis
from chartwise_usage.plans import Tier

BENCHMARKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
SECTION = "## Usage: quota reservations"
RESERVATIONS = 20_000
USERS = 200
CONCURRENCY = 64
UNLIMITED = (Tier(name="free", daily=None, monthly=None, total=None),)


def _write_section(text: str) -> None:
    existing = BENCHMARKS_DOC.read_text() if BENCHMARKS_DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.DOTALL)
    if pattern.search(existing):
        updated = pattern.sub(lambda _: text.rstrip("\n"), existing)
    else:
        updated = existing.rstrip("\n") + "\n\n" + text
    BENCHMARKS_DOC.write_text(updated.rstrip("\n") + "\n")


@pytest.mark.benchmark
async def test_quota_reservations_per_second(redis: Redis, redis_url: str, mongo_db: Database) -> None:
    client = connect_redis(redis_url)
    usage = bootstrap(redis=client, db=mongo_db, tiers=UNLIMITED)
    for user in range(USERS):  # first use of each user loads its counters and caches its plan
        await usage.quota.reserve(user_id=f"u{user}", analysis_id=f"warm-{user}", units=1)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(RESERVATIONS):
        queue.put_nowait(i)

    async def reserve_all() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            await usage.quota.reserve(user_id=f"u{i % USERS}", analysis_id=f"a{i}", units=1)

    started = time.perf_counter()
    await asyncio.gather(*(reserve_all() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    await client.aclose()

    rate = RESERVATIONS / elapsed
    load = os.getloadavg()[0]
    _write_section(
        f"{SECTION}\n\n"
        f"{RESERVATIONS:,} reservations by {USERS} users, {CONCURRENCY} concurrent callers in one process, through "
        "`QuotaService.reserve` (cached plan read + one Lua script checking day, month and total and recording the "
        f"reservation), on {datetime.now(UTC):%Y-%m-%d}, with a one-minute load average of {load:.1f}.\n\n"
        "| reservations | seconds | reservations/s | target |\n|---:|---:|---:|---:|\n"
        f"| {RESERVATIONS:,} | {elapsed:.2f} | {rate:,.0f} | 5,000 |\n"
    )
    assert await redis.zcard("chartwise:usage:deadlines") == RESERVATIONS + USERS
