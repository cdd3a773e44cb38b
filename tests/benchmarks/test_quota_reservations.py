"""Quota reservations per second: the service's reservation path, and the request/reply path around it.

Writes the "Usage: quota reservations" section of docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE, QuotaReserved, ReserveQuota
from chartwise_devtools.asgi import running
from chartwise_devtools.waiting import eventually
from chartwise_runtime.mongo import Database
from chartwise_runtime.rpc import request
from chartwise_usage.app import CONSUMED_STREAMS, RPC_OPERATIONS, build_app
from chartwise_usage.bootstrap import Usage, bootstrap, connect_redis
from chartwise_usage.plans import Tier
from chartwise_usage.settings import Settings
from tests.benchmarks.report import write_section

SECTION = "## Usage: quota reservations"
USERS = 200
UNLIMITED = (Tier(name="free", daily=None, monthly=None, total=None),)
SERVICE_ROUNDS = 3
SERVICE_RESERVATIONS = 20_000
SERVICE_CALLERS = 64
ONE_BY_ONE_RESERVATIONS = 3_000
RPC_RESERVATIONS = 500
RPC_CALLERS = 64


@dataclass(frozen=True, slots=True)
class Round:
    path: str
    callers: int
    reservations: int
    seconds: float
    load: float

    @property
    def rate(self) -> float:
        return self.reservations / self.seconds


async def _timed(path: str, callers: int, count: int, reserve: Callable[[int], Awaitable[object]]) -> Round:
    """`count` reservations, `callers` at a time, each caller taking the next number when its last one is done."""
    numbers = iter(range(count))

    async def caller() -> None:
        for i in numbers:
            await reserve(i)

    load = os.getloadavg()[0]
    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return Round(path, callers, count, time.perf_counter() - started, load)


async def _service_rounds(usage: Usage) -> list[Round]:
    for user in range(USERS):  # first use of each user loads its counters and caches its plan
        await usage.quota.reserve(user_id=f"u{user}", analysis_id=f"warm-{user}", units=1)
    rounds = []
    for n in range(SERVICE_ROUNDS):

        async def reserve(i: int, n: int = n) -> object:
            return await usage.quota.reserve(user_id=f"u{i % USERS}", analysis_id=f"s{n}-{i}", units=1)

        rounds.append(await _timed("`QuotaService.reserve`", SERVICE_CALLERS, SERVICE_RESERVATIONS, reserve))

    async def one_by_one(i: int) -> object:
        return await usage.quota.reserve(user_id=f"u{i % USERS}", analysis_id=f"seq-{i}", units=1)

    rounds.append(await _timed("`QuotaService.reserve`", 1, ONE_BY_ONE_RESERVATIONS, one_by_one))
    return rounds


async def _request_reply_round(redis: Redis, redis_url: str, mongo_url: str, database: str) -> Round:
    settings = Settings(
        redis_url=redis_url,
        mongo_url=mongo_url,
        mongo_database=database,
        environment="test",
        schedule_recurring_work=False,
        consumer_name="usage-bench",
        plans=UNLIMITED,
    )
    subject = rpc_subject(USAGE_SERVICE, "ReserveQuota")
    async with running(build_app(settings)):
        expected = len(CONSUMED_STREAMS) + len(RPC_OPERATIONS)
        await eventually(lambda: _blocked_clients_at_least(redis, expected))
        # Each request holds a reply subscription and a publishing connection while it waits.
        async with RedisBroker(redis_url, max_connections=4 * RPC_CALLERS) as broker:
            await broker.start()

            async def reserve(i: int, prefix: str = "rpc") -> object:
                command = ReserveQuota.new(user_id=f"r{i % USERS}", analysis_id=f"{prefix}-{i}")
                return await request(broker, command, subject=subject, reply_type=QuotaReserved, timeout=30)

            for user in range(USERS):
                await reserve(user, prefix="warm-rpc")
            return await _timed("ReserveQuota request → reply", RPC_CALLERS, RPC_RESERVATIONS, reserve)


async def _blocked_clients_at_least(redis: Redis, expected: int) -> bool:
    return bool((await redis.info("clients"))["blocked_clients"] >= expected)


def _section(rounds: list[Round]) -> str:
    concurrent = [r.rate for r in rounds if r.path.startswith("`Quota") and r.callers > 1]
    rows = "".join(
        f"| {r.path} | {r.callers} | {r.reservations:,} | {r.seconds:.2f} | {r.rate:,.0f} | {r.load:.1f} |\n"
        for r in rounds
    )
    return (
        f"{SECTION}\n\n"
        f"Measured on {datetime.now(UTC):%Y-%m-%d} in one process on the shared 2-core machine (Redis on the same "
        f"cores); {USERS} users on an unlimited plan, each warmed up first (counters loaded, plan cached). The "
        "target (5,000 reservations/s) is about the service: `QuotaService.reserve` is the cached plan read, "
        "the cached windows and one atomic Lua check-and-reserve of day, month and total, with reservations "
        "that arrive while one script call is in flight sent together in the next (each still atomic on its "
        "own). The one-caller row is the cost of a reservation made alone. The request/reply row adds what a "
        "gateway's `ReserveQuota` pays: the FastStream request (stream entry, reply, JSON and pydantic on both "
        "sides) with its 64 callers running in the same process as the service, which handles one stream "
        "entry at a time; it is not what the target is about. Load is the one-minute load average as each "
        "round started.\n\n"
        "| path | callers | reservations | seconds | reservations/s | load average |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"{rows}\n"
        f"Median of the concurrent service rounds: {statistics.median(concurrent):,.0f} reservations/s "
        "(target 5,000).\n"
    )


@pytest.mark.benchmark
async def test_quota_reservations_per_second(
    redis: Redis, redis_url: str, mongo_url: str, mongo_database_name: str, mongo_db: Database
) -> None:
    client = connect_redis(redis_url)
    try:
        rounds = await _service_rounds(bootstrap(redis=client, db=mongo_db, tiers=UNLIMITED))
    finally:
        await client.aclose()
    rounds.append(await _request_reply_round(redis, redis_url, mongo_url, mongo_database_name))

    write_section(SECTION, _section(rounds))
    service_total = USERS + SERVICE_ROUNDS * SERVICE_RESERVATIONS + ONE_BY_ONE_RESERVATIONS
    assert await redis.zcard("chartwise:usage:deadlines") == service_total + USERS + RPC_RESERVATIONS
