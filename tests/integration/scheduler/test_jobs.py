"""Job records: immediate and delayed release, idempotent ids, lookups, status transitions and cancellation."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from chartwise_contracts.jobs import CANCEL_CHANNEL, JobFailed, JobProgress, JobRetrying, JobState, cancel_key
from chartwise_contracts.scheduler import JobRequest
from chartwise_devtools.waiting import eventually
from chartwise_scheduler.clock import from_ms
from chartwise_scheduler.events import apply_job_events
from chartwise_scheduler.store import JobStore
from chartwise_scheduler.timer import Timer
from tests.integration.scheduler.helpers import active, completed, queued, take


async def test_immediate_job_is_released_into_its_queue_stream(store: JobStore) -> None:
    view, created = await store.enqueue(JobRequest(queue="q", name="send", payload={"to": "a"}))

    released = await queued(store.redis, "q")

    assert created
    assert view.state is JobState.WAITING
    assert [(j.job_id, j.payload, j.attempt) for j in released] == [(view.job_id, {"to": "a"}, 1)]


async def test_enqueue_with_an_existing_job_id_returns_the_existing_job(store: JobStore) -> None:
    first, created_first = await store.enqueue(JobRequest(queue="q", name="n", job_id="order-1", payload={"v": 1}))
    again, created_again = await store.enqueue(JobRequest(queue="q", name="n", job_id="order-1", payload={"v": 2}))

    assert created_first
    assert not created_again
    assert again.payload == {"v": 1}
    assert again.created_at == first.created_at
    assert len(await queued(store.redis, "q")) == 1


async def test_delayed_job_fires_on_time_and_not_early(store: JobStore, running_timer: Timer) -> None:
    enqueued_at = time.time()
    view, _ = await store.enqueue(JobRequest(queue="q", name="later", delay_ms=200))
    assert view.state is JobState.DELAYED

    released = await eventually(lambda: queued(store.redis, "q"))
    entry_ms = int(str((await store.redis.xrange("chartwise.queue.q"))[0][0]).split("-")[0])

    due_ms = int(view.due_at.timestamp() * 1000)
    assert released[0].job_id == view.job_id
    assert entry_ms >= due_ms, "released before its due time"
    assert entry_ms - due_ms < 100, f"released {entry_ms - due_ms} ms late"
    assert time.time() - enqueued_at >= 0.2
    assert (await store.get(view.job_id)).state is JobState.WAITING


async def test_a_nearer_job_wakes_a_timer_sleeping_for_a_later_one(store: JobStore, running_timer: Timer) -> None:
    await store.enqueue(JobRequest(queue="q", name="far", delay_ms=60_000))
    near, _ = await store.enqueue(JobRequest(queue="q", name="near", delay_ms=100))

    released = await eventually(lambda: queued(store.redis, "q"), timeout=2.0)

    assert [j.job_id for j in released] == [near.job_id]


async def test_batch_of_delayed_jobs_all_fire_in_due_order(store: JobStore, running_timer: Timer) -> None:
    # One base for every due time: enqueueing 300 jobs may itself take longer than the 10 ms between due times.
    base_ms = int(time.time() * 1000) + 100
    requests = [
        JobRequest(queue="q", name="n", job_id=f"j{i}", run_at=from_ms(base_ms + (i % 10) * 10)) for i in range(300)
    ]
    await store.enqueue_many(requests)

    async def all_released() -> list[str]:
        jobs = await queued(store.redis, "q")
        return [j.job_id for j in jobs] if len(jobs) == 300 else []

    order = await eventually(all_released)
    dues = [100 + (int(job_id[1:]) % 10) * 10 for job_id in order]
    assert dues == sorted(dues)
    assert len(set(order)) == 300


async def test_find_jobs_by_name_and_state_pages_newest_first(store: JobStore) -> None:
    for i in range(5):
        await store.enqueue(JobRequest(queue="q", name="report", job_id=f"r{i}", delay_ms=60_000 if i % 2 else 0))
    await store.enqueue(JobRequest(queue="q", name="other", job_id="o1"))

    page, total = await store.find(queue="q", name="report", state=None, offset=0, limit=3)
    delayed, delayed_total = await store.find(queue="q", name="report", state=JobState.DELAYED, offset=0, limit=10)

    assert total == 5
    assert len(page) == 3
    assert {j.name for j in page} == {"report"}
    assert delayed_total == 2
    assert sorted(j.job_id for j in delayed) == ["r1", "r3"]


async def test_events_move_a_job_through_active_progress_and_completed(store: JobStore) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1"))
    [job] = await take(store.redis, "q")

    await apply_job_events([active(job)], store)
    running = await store.get("j1")
    progress = JobProgress.new(job_id="j1", queue="q", name="n", attempt=1, sequence=1, progress=0.5)
    await apply_job_events([progress], store)
    halfway = await store.get("j1")
    await apply_job_events([completed(job, {"answer": 42})], store)
    done = await store.get("j1")

    assert running is not None
    assert running.state is JobState.ACTIVE
    assert running.started_at is not None
    assert halfway is not None
    assert halfway.progress == 0.5
    assert done is not None
    assert done.state is JobState.COMPLETED
    assert done.result == {"answer": 42}
    assert done.finished_at is not None
    counts, _ = await store.counts("q")
    assert counts[JobState.COMPLETED] == 1
    assert counts[JobState.ACTIVE] == counts[JobState.WAITING] == 0


async def test_events_are_idempotent_and_late_ones_are_ignored(store: JobStore) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1"))
    [job] = await take(store.redis, "q")
    finished = completed(job, "ok")

    outcomes = await apply_job_events([active(job), finished, finished, active(job)], store)
    stale_progress = JobProgress.new(job_id="j1", queue="q", name="n", attempt=1, sequence=5, progress=0.9)
    late = await apply_job_events([stale_progress], store)

    assert outcomes == ["applied", "applied", "finished", "finished"]
    assert late == ["finished"]
    view = await store.get("j1")
    assert view is not None
    assert view.state is JobState.COMPLETED
    assert view.progress is None


async def test_retrying_schedules_the_next_attempt_at_its_run_time(store: JobStore, running_timer: Timer) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1", options={"attempts": 2}))
    [job] = await take(store.redis, "q")
    next_run = datetime.fromtimestamp(time.time() + 0.15, tz=UTC)
    retry = JobRetrying.new(
        job_id="j1",
        queue="q",
        name="n",
        attempt=1,
        error="boom",
        next_run_at=next_run,
        job=job.model_copy(update={"attempt": 2}),
    )

    await apply_job_events([active(job), retry], store)
    waiting_retry = await store.get("j1")
    [second] = await eventually(lambda: take(store.redis, "q"))
    await apply_job_events([active(second), retry], store)  # a duplicate of the retry changes nothing
    failed = JobFailed.new(job_id="j1", queue="q", name="n", attempt=2, error="boom again", finished_at=next_run)
    await apply_job_events([failed], store)

    assert waiting_retry is not None
    assert waiting_retry.state is JobState.DELAYED
    assert waiting_retry.error == "boom"
    assert second.attempt == 2
    view = await store.get("j1")
    assert view is not None
    assert view.state is JobState.FAILED
    assert view.attempt == 2
    assert view.error == "boom again"


async def test_cancel_removes_a_delayed_job_before_it_runs(store: JobStore, running_timer: Timer) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1", delay_ms=150))

    outcome = await store.cancel("j1", reason="not needed", signal_ttl_ms=60_000)
    await store.enqueue(JobRequest(queue="q", name="n", job_id="marker", delay_ms=300))
    await eventually(lambda: queued(store.redis, "q"))

    assert outcome == "cancelled"
    assert [j.job_id for j in await queued(store.redis, "q")] == ["marker"]
    view = await store.get("j1")
    assert view is not None
    assert view.state is JobState.CANCELLED
    assert view.error == "not needed"
    assert await store.redis.zscore(store.keys.due, "j1") is None


async def test_cancel_of_a_waiting_job_takes_it_out_of_the_stream(store: JobStore) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1"))

    outcome = await store.cancel("j1", reason="", signal_ttl_ms=60_000)

    assert outcome == "cancelled"
    assert await queued(store.redis, "q") == []
    assert await store.redis.exists(cancel_key("j1")) == 1


async def test_cancel_of_an_active_job_signals_its_worker(store: JobStore, text_redis: Redis) -> None:
    await store.enqueue(JobRequest(queue="q", name="n", job_id="j1"))
    [job] = await take(store.redis, "q")
    await apply_job_events([active(job)], store)
    async with text_redis.pubsub(ignore_subscribe_messages=True) as pubsub:
        await pubsub.subscribe(CANCEL_CHANNEL)

        outcome = await store.cancel("j1", reason="user asked", signal_ttl_ms=60_000)
        message = await eventually(lambda: pubsub.get_message(timeout=0.1))

    assert outcome == "signalled"
    assert message is not None
    assert message["data"] == "j1"
    assert await text_redis.get(cancel_key("j1")) == "user asked"
    assert 0 < await text_redis.pttl(cancel_key("j1")) <= 60_000
    view = await store.get("j1")
    assert view is not None
    assert view.state is JobState.ACTIVE
    assert view.cancel_requested


async def test_cancelling_a_parent_cancels_its_pending_children(store: JobStore) -> None:
    await store.enqueue(JobRequest(queue="q", name="parent", job_id="p", delay_ms=60_000))
    await store.enqueue(JobRequest(queue="q", name="child", job_id="c1", delay_ms=60_000, parent_id="p"))
    await store.enqueue(JobRequest(queue="q", name="child", job_id="c2", parent_id="p"))

    outcome = await store.cancel("p", reason="", signal_ttl_ms=1_000)

    assert outcome == "cancelled"
    states = [v.state for v in await store.get_many(["p", "c1", "c2"]) if v is not None]
    assert states == [JobState.CANCELLED] * 3
    assert await store.redis.zcard(store.keys.due) == 0
    assert await queued(store.redis, "q") == []


async def test_paused_queue_holds_due_jobs_until_resumed(store: JobStore) -> None:
    await store.pause("q")
    view, _ = await store.enqueue(JobRequest(queue="q", name="n"))
    held = await store.counts("q")

    released = await store.resume("q")

    assert view.state is JobState.PAUSED
    assert held == ({**dict.fromkeys(JobState, 0), JobState.PAUSED: 1}, True)
    assert released == 1
    assert [j.job_id for j in await queued(store.redis, "q")] == [view.job_id]
