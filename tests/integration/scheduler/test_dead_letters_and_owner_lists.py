"""The scheduler's dead-letter operations and one owner's schedule listing, on the real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from chartwise_contracts.jobs import JobFailed, JobState
from chartwise_contracts.scheduler import (
    GetSchedule,
    JobRequest,
    JobTemplate,
    ListDeadLetters,
    ListSchedules,
    ReplayDeadLetter,
    ScheduleSpec,
)
from chartwise_runtime.errors import NotFound
from chartwise_runtime.worker import DeadLetters
from chartwise_scheduler import dead_letters, handlers
from chartwise_scheduler.events import apply_job_events
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore
from tests.integration.scheduler.helpers import active, completed, queued, take

QUEUE = "reports"


@pytest.fixture
async def raw_redis(redis: Redis, redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url, decode_responses=False)
    try:
        yield client
    finally:
        await client.aclose()


async def fail_for_good(store: JobStore, raw_redis: Redis, job_id: str) -> None:
    """What a worker does with a job whose last attempt failed: the failed event, and its dead letter."""
    await store.enqueue(JobRequest(queue=QUEUE, name="report", job_id=job_id, payload={"n": 1}), correlation_id="c")
    (job,) = [j for j in await take(store.redis, QUEUE) if j.job_id == job_id]
    failed = JobFailed.new(
        job_id=job.job_id, queue=QUEUE, name=job.name, attempt=1, error="boom", finished_at=datetime.now(UTC)
    )
    await apply_job_events([active(job), failed], store)
    async with raw_redis.pipeline(transaction=True) as pipe:
        DeadLetters(raw_redis, QUEUE).park(pipe, job, error="boom", attempts=1)
        await pipe.execute()


async def test_dead_letters_are_listed_newest_first_in_pages(store: JobStore, raw_redis: Redis) -> None:
    for job_id in ("j1", "j2", "j3"):
        await fail_for_good(store, raw_redis, job_id)

    first = await dead_letters.list_dead_letters(ListDeadLetters.new(queue=QUEUE, limit=2), raw_redis)
    second = await dead_letters.list_dead_letters(
        ListDeadLetters.new(queue=QUEUE, limit=2, before=first.next_before), raw_redis
    )

    assert [x.job_id for x in first.items] == ["j3", "j2"]
    assert first.items[0].error == "boom"
    assert first.items[0].attempts == 1
    assert first.items[0].payload == {"n": 1}
    assert [x.job_id for x in second.items] == ["j1"]
    assert second.next_before is None


async def test_replay_requeues_the_job_and_reopens_its_record(store: JobStore, raw_redis: Redis) -> None:
    await fail_for_good(store, raw_redis, "j1")
    assert (await store.get("j1")).state == JobState.FAILED

    await dead_letters.replay_dead_letter(ReplayDeadLetter.new(queue=QUEUE, job_id="j1"), raw_redis, store)

    record = await store.get("j1")
    assert record is not None
    assert (record.state, record.attempt, record.error) == (JobState.WAITING, 1, None)
    assert [j.job_id for j in await queued(store.redis, QUEUE)].count("j1") == 2
    page = await dead_letters.list_dead_letters(ListDeadLetters.new(queue=QUEUE), raw_redis)
    assert page.items == []
    (rerun,) = await take(store.redis, QUEUE)
    await apply_job_events([active(rerun), completed(rerun, "ok")], store)
    assert (await store.get("j1")).state == JobState.COMPLETED


async def test_replaying_a_job_without_dead_letter_is_not_found(store: JobStore, raw_redis: Redis) -> None:
    with pytest.raises(NotFound):
        await dead_letters.replay_dead_letter(ReplayDeadLetter.new(queue=QUEUE, job_id="nope"), raw_redis, store)


def spec(schedule_id: str, queue: str = QUEUE) -> ScheduleSpec:
    return ScheduleSpec(schedule_id=schedule_id, queue=queue, cron="0 8 * * *", template=JobTemplate(name="report"))


async def test_list_with_an_id_prefix_shows_only_that_owners_schedules(schedules: ScheduleStore) -> None:
    for schedule_id in ("user:a:one", "user:a:two", "user:ab:one", "user:b:one", "sweep"):
        await schedules.upsert(spec(schedule_id))
    await schedules.upsert(spec("user:a:elsewhere", queue="other"))

    of_a = await handlers.list_schedules(ListSchedules.new(id_prefix="user:a:", queue=QUEUE), schedules)
    any_queue = await handlers.list_schedules(ListSchedules.new(id_prefix="user:a:"), schedules)
    paged = await handlers.list_schedules(ListSchedules.new(id_prefix="user:a:", offset=1, limit=1), schedules)

    assert [s.schedule_id for s in of_a.schedules] == ["user:a:one", "user:a:two"]
    assert of_a.total == 2
    assert all(s.next_run_at is not None for s in of_a.schedules)
    assert [s.schedule_id for s in any_queue.schedules] == ["user:a:elsewhere", "user:a:one", "user:a:two"]
    assert ([s.schedule_id for s in paged.schedules], paged.total) == (["user:a:one"], 3)


async def test_get_schedule_answers_the_schedule_or_not_found(schedules: ScheduleStore) -> None:
    await schedules.upsert(spec("user:a:one"))

    found = await handlers.get_schedule(GetSchedule.new(schedule_id="user:a:one"), schedules)

    assert found.schedule.cron == "0 8 * * *"
    with pytest.raises(NotFound):
        await handlers.get_schedule(GetSchedule.new(schedule_id="user:a:two"), schedules)
