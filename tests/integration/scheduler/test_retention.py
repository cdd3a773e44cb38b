"""Retention of finished records by count and age, the expired-record sweep, and nothing left behind."""

from __future__ import annotations

from redis.asyncio import Redis

from chartwise_contracts.jobs import JobState, QueuedJob
from chartwise_contracts.scheduler import JobOptions, JobRequest, RetentionPolicy
from chartwise_scheduler.clock import ManualClock, from_ms
from chartwise_scheduler.events import apply_job_events
from chartwise_scheduler.maintenance import SWEEP_SCHEDULE_ID, sweep_expired, sweep_schedule
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore
from chartwise_scheduler.timer import Timer
from tests.integration.scheduler.helpers import active, completed, take


async def run_to_completion(store: JobStore, count: int, options: JobOptions) -> list[QueuedJob]:
    await store.enqueue_many([JobRequest(queue="q", name="n", job_id=f"j{i}", options=options) for i in range(count)])
    jobs = await take(store.redis, "q", count=1_000)
    for job in jobs:
        await apply_job_events([active(job), completed(job, at=from_ms(store.clock.now_ms()))], store)
    return jobs


async def keys_of(redis: Redis) -> set[str]:
    return {str(k) for k in await redis.keys("chartwise:sched:*")}


async def test_remove_on_complete_true_leaves_no_record(store: JobStore) -> None:
    await run_to_completion(store, 3, JobOptions(remove_on_complete=True))

    assert await store.get_many(["j0", "j1", "j2"]) == [None, None, None]
    assert await keys_of(store.redis) == {"chartwise:sched:queues"}


async def test_retention_by_count_keeps_the_newest_records(store: JobStore) -> None:
    await run_to_completion(store, 5, JobOptions(remove_on_complete=2))

    views = await store.get_many([f"j{i}" for i in range(5)])
    found, total = await store.find(queue="q", name="n", state=None, offset=0, limit=10)

    assert [v is not None for v in views] == [False, False, False, True, True]
    assert total == 2
    assert {v.job_id for v in found} == {"j3", "j4"}
    counts, _ = await store.counts("q")
    assert counts[JobState.COMPLETED] == 2


async def test_retention_by_age_expires_records_at_the_sweep(manual_store: JobStore, manual_clock: ManualClock) -> None:
    jobs = await run_to_completion(manual_store, 2, JobOptions(remove_on_complete=RetentionPolicy(age_s=60)))

    manual_clock.advance_ms(59_000)
    swept_early = await sweep_expired(jobs[0], manual_store)
    manual_clock.advance_ms(2_000)
    swept = await sweep_expired(jobs[0], manual_store)

    assert swept_early == {"removed": 0}
    assert swept == {"removed": 2}
    assert await manual_store.get_many(["j0", "j1"]) == [None, None]
    assert await manual_store.redis.zcard(manual_store.keys.expiry) == 0


async def test_sweep_removes_large_backlogs_in_batches(manual_store: JobStore, manual_clock: ManualClock) -> None:
    await run_to_completion(manual_store, 120, JobOptions(remove_on_complete=RetentionPolicy(age_s=1)))
    manual_clock.advance_ms(5_000)

    removed = await manual_store.sweep_expired(batch=25)

    assert removed == 120
    counts, _ = await manual_store.counts("q")
    assert counts[JobState.COMPLETED] == 0


async def test_sweep_runs_as_a_recurring_job_of_the_scheduler(
    manual_schedules: ScheduleStore, manual_timer: Timer, manual_clock: ManualClock
) -> None:
    await manual_schedules.upsert(sweep_schedule(every_ms=60_000))
    await manual_schedules.upsert(sweep_schedule(every_ms=60_000))
    await manual_timer.tick()

    [job] = await take(manual_schedules.redis, "scheduler-maintenance")

    assert job.name == "sweep-expired"
    assert job.job_id.startswith(f"sched:{SWEEP_SCHEDULE_ID}:")
    _, total = await manual_schedules.list(queue="scheduler-maintenance", offset=0, limit=10)
    assert total == 1


async def test_finished_job_leaves_no_pending_background_work(store: JobStore) -> None:
    await store.enqueue(JobRequest(queue="q", name="parent", job_id="p"))
    await store.enqueue(JobRequest(queue="q", name="child", job_id="c", parent_id="p", delay_ms=60_000))
    [job] = await take(store.redis, "q")
    await store.cancel("p", reason="", signal_ttl_ms=1_000)  # active? no: still waiting, so removed outright

    await apply_job_events([active(job), completed(job)], store)

    assert await store.redis.zcard(store.keys.due) == 0
    counts, _ = await store.counts("q")
    pending = sum(counts[s] for s in (JobState.DELAYED, JobState.WAITING, JobState.ACTIVE, JobState.PAUSED))
    assert pending == 0
    assert (await store.get("c")).state is JobState.CANCELLED


async def test_completed_job_with_age_retention_has_only_its_expiry_entry(store: JobStore) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1", delay_ms=0))
    [job] = await take(store.redis, "q")

    await apply_job_events([active(job), completed(job)], store)

    assert await store.redis.zrange(store.keys.expiry, 0, -1) == ["j1"]
    assert await store.redis.zcard(store.keys.due) == 0
    assert await store.redis.zcard(store.keys.state("q", "active")) == 0
