"""Several scheduler replicas and restarts: every due job is released exactly once, none is lost."""

from __future__ import annotations

from collections import Counter

from redis.asyncio import Redis

from chartwise_contracts.scheduler import JobRequest
from chartwise_devtools.waiting import eventually
from chartwise_scheduler.clock import SystemClock
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore
from chartwise_scheduler.timer import Timer
from tests.integration.scheduler.helpers import queued


def replica(client: Redis) -> Timer:
    jobs = JobStore(client, SystemClock())
    return Timer(jobs, ScheduleStore(client, jobs.clock, jobs.scripts, jobs.keys), jobs.clock)


async def released_ids(redis: Redis, expected: int) -> list[str]:
    jobs = await queued(redis, "q")
    return [j.job_id for j in jobs] if len(jobs) >= expected else []


async def test_three_replicas_release_each_delayed_job_once(store: JobStore, redis_url: str) -> None:
    clients: list[Redis] = [Redis.from_url(redis_url, decode_responses=True) for _ in range(3)]
    timers = [replica(c) for c in clients]
    for timer, client in zip(timers, clients, strict=True):
        await timer.start(client)
    try:
        await store.enqueue_many(
            [JobRequest(queue="q", name="n", job_id=f"j{i}", delay_ms=50 + i % 200) for i in range(400)]
        )
        ids = await eventually(lambda: released_ids(store.redis, 400))
    finally:
        for timer in timers:
            await timer.stop()
        for client in clients:
            await client.aclose()

    assert len(ids) == 400
    assert Counter(ids).most_common(1)[0][1] == 1


async def test_scheduler_stopped_mid_run_and_restarted_loses_nothing(store: JobStore, redis_url: str) -> None:
    await store.enqueue_many([JobRequest(queue="q", name="n", job_id=f"j{i}", delay_ms=i) for i in range(300)])
    first = replica(store.redis)
    await first.start(store.redis)
    await eventually(lambda: released_ids(store.redis, 50))
    await first.stop()
    released_before = len(await queued(store.redis, "q"))

    restarted = replica(store.redis)
    await restarted.start(store.redis)
    try:
        ids = await eventually(lambda: released_ids(store.redis, 300))
    finally:
        await restarted.stop()

    assert released_before < 300, "the first scheduler should have been stopped mid-run"
    assert sorted(ids) == sorted(f"j{i}" for i in range(300))
