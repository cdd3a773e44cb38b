"""A worker runs its queue's jobs once each, within its concurrency cap, and records every outcome."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from chartwise_contracts import dead_letter_stream, queue_stream
from chartwise_contracts.jobs import JOB_GROUP, JobCompleted, JobProgress
from chartwise_runtime.worker import JobContext

from .conftest import Payload, WorkerFactory, enqueue, job_events, kinds, queued_job, settled, wait_until


async def test_completed_job_is_acked_deleted_and_reported_with_its_result(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    async def double(payload: Payload, ctx: JobContext) -> dict[str, int]:
        return {"doubled": payload.n * 2, "attempt": ctx.attempt}

    worker = make_worker(double)
    await worker.start()
    await enqueue(redis, queued_job("j1", payload={"n": 21}, actor="user-7"))

    await wait_until(lambda: settled(redis))
    await wait_until(lambda: _has(redis, "j1", "JobCompleted"))

    events = await job_events(redis, "j1")
    assert [type(e).__name__ for e in events] == ["JobActive", "JobCompleted"]
    completed = events[-1]
    assert isinstance(completed, JobCompleted)
    assert completed.result == {"doubled": 42, "attempt": 1}
    assert completed.meta.correlation_id == "corr-j1"
    assert completed.meta.actor == "user-7"
    assert (await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"] == 0


async def test_concurrency_cap_is_never_exceeded(redis: Redis, make_worker: WorkerFactory) -> None:
    running = 0
    peak = 0
    gate = asyncio.Event()

    async def hold(payload: Payload, ctx: JobContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1

    worker = make_worker(hold, concurrency=3)
    await worker.start()
    await enqueue(redis, *(queued_job(f"j{i}") for i in range(10)))

    async def three_running() -> bool:
        return running == 3

    await wait_until(three_running)
    assert worker.in_flight == 3
    gate.set()
    await wait_until(lambda: settled(redis))

    assert peak == 3
    completed = [e for e in await job_events(redis) if isinstance(e, JobCompleted)]
    assert sorted(e.job_id for e in completed) == sorted(f"j{i}" for i in range(10))


async def test_progress_events_arrive_in_order(redis: Redis, make_worker: WorkerFactory) -> None:
    seen_by_hook: list[object] = []

    async def report(payload: Payload, ctx: JobContext) -> None:
        for step in range(1, 21):
            await ctx.progress(step * 5 if step % 2 else {"step": step})

    worker = make_worker(report)

    @worker.on_progress
    async def remember(event: JobProgress) -> None:
        seen_by_hook.append(event.progress)

    await worker.start()
    await enqueue(redis, queued_job("p1"))
    await wait_until(lambda: _has(redis, "p1", "JobCompleted"))

    progress = [e for e in await job_events(redis, "p1") if isinstance(e, JobProgress)]
    expected = [step * 5 if step % 2 else {"step": step} for step in range(1, 21)]
    assert [e.sequence for e in progress] == list(range(1, 21))
    assert [e.progress for e in progress] == expected
    assert seen_by_hook == expected
    assert await kinds(redis, "p1") == ["JobActive", *["JobProgress"] * 20, "JobCompleted"]


async def test_unreadable_entry_is_parked_not_run(redis: Redis, make_worker: WorkerFactory) -> None:
    calls = 0

    async def count(payload: Payload, ctx: JobContext) -> None:
        nonlocal calls
        calls += 1

    worker = make_worker(count)
    await worker.start()
    await redis.xadd(queue_stream("test-queue"), {"job": b"{not json"})

    await wait_until(lambda: settled(redis))
    await wait_until(lambda: _stream_len(redis, dead_letter_stream("test-queue"), 1))
    assert calls == 0
    parked = await redis.xrange(dead_letter_stream("test-queue"))
    assert parked[0][1][b"job"] == b"{not json"
    assert b"unreadable queue entry" in parked[0][1][b"error"]


async def _has(redis: Redis, job_id: str, kind: str) -> bool:
    return kind in await kinds(redis, job_id)


async def _stream_len(redis: Redis, stream: str, length: int) -> bool:
    return int(await redis.xlen(stream)) == length
