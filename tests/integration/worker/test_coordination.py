"""What workers share through Redis: the rate limit, cancellations, once-only effects, typed events."""

from __future__ import annotations

import asyncio
import time

from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import Redis

from chartwise_contracts import Streams
from chartwise_contracts.jobs import CANCEL_CHANNEL, AnyJobEvent, JobActive, JobCancelled, JobCompleted, cancel_key
from chartwise_runtime.worker import JobContext, RateLimit

from .conftest import Payload, WorkerFactory, enqueue, job_events, kill, kinds, queued_job, settled, wait_until


async def _has(redis: Redis, job_id: str, kind: str) -> bool:
    return kind in await kinds(redis, job_id)


async def test_rate_limit_is_shared_by_two_worker_instances(redis: Redis, make_worker: WorkerFactory) -> None:
    starts: list[float] = []

    async def record(payload: Payload, ctx: JobContext) -> None:
        starts.append(time.monotonic())

    limit = RateLimit(max_jobs=3, per_seconds=0.5)
    one = make_worker(record, consumer="one", concurrency=5, limiter=limit)
    two = make_worker(record, consumer="two", concurrency=5, limiter=limit)
    await one.start()
    await two.start()
    await enqueue(redis, *(queued_job(f"q{i}") for i in range(8)))

    await wait_until(lambda: settled(redis))

    assert len(starts) == 8
    starts.sort()
    # Never a fourth start within one window (less a little for the gap between Redis's clock and ours).
    assert all(later - earlier >= 0.5 - 0.03 for earlier, later in zip(starts, starts[3:], strict=False))
    workers = {e.worker for e in await job_events(redis) if isinstance(e, JobActive)}
    assert workers <= {"one", "two"}


async def test_cancelling_a_running_job_stops_it_as_cancelled(redis: Redis, make_worker: WorkerFactory) -> None:
    started = asyncio.Event()

    async def long_running(payload: Payload, ctx: JobContext) -> None:
        started.set()
        await ctx.wait_cancelled()
        ctx.raise_if_cancelled()

    worker = make_worker(long_running, options=None)
    await worker.start()
    await enqueue(redis, queued_job("c1", max_attempts=3))
    await asyncio.wait_for(started.wait(), timeout=10)

    await redis.set(cancel_key("c1"), b"1", ex=60)
    await redis.publish(CANCEL_CHANNEL, "c1")

    await wait_until(lambda: _has(redis, "c1", "JobCancelled"))
    await wait_until(lambda: settled(redis))
    assert await kinds(redis, "c1") == ["JobActive", "JobCancelled"]
    assert await worker.dead_letters.list() == []


async def test_job_cancelled_before_it_starts_is_skipped(redis: Redis, make_worker: WorkerFactory) -> None:
    calls = 0

    async def count(payload: Payload, ctx: JobContext) -> None:
        nonlocal calls
        calls += 1

    await redis.set(cancel_key("c2"), b"1", ex=60)
    worker = make_worker(count)
    await worker.start()
    await enqueue(redis, queued_job("c2"), queued_job("c3"))

    await wait_until(lambda: _has(redis, "c3", "JobCompleted"))
    await wait_until(lambda: settled(redis))
    assert calls == 1
    events = await job_events(redis, "c2")
    assert [type(e).__name__ for e in events] == ["JobCancelled"]
    assert isinstance(events[0], JobCancelled)


async def test_effect_wrapped_in_once_is_applied_once_when_the_job_runs_again(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    from chartwise_runtime.worker import WorkerOptions

    charged: list[str] = []
    crash_after_effect = asyncio.Event()
    never = asyncio.Event()

    async def charge(payload: Payload, ctx: JobContext) -> str:
        async with ctx.once("charge") as first:
            if first:
                charged.append(ctx.job_id)
        if ctx.worker == "doomed":
            crash_after_effect.set()
            await never.wait()
        return "charged"

    options = WorkerOptions(visibility_timeout_s=0.3, heartbeat_interval_s=0.05, block_ms=50)
    doomed = make_worker(charge, consumer="doomed", options=options)
    await doomed.start()
    await enqueue(redis, queued_job("o1", max_attempts=3))
    await asyncio.wait_for(crash_after_effect.wait(), timeout=10)
    kill(doomed)
    survivor = make_worker(charge, consumer="survivor", options=options)
    await survivor.start()

    await wait_until(lambda: _has(redis, "o1", "JobCompleted"))
    assert charged == ["o1"]


async def test_faststream_subscriber_receives_typed_job_events(
    redis_url: str, redis: Redis, make_worker: WorkerFactory
) -> None:
    received: list[AnyJobEvent] = []
    broker = RedisBroker(redis_url)

    @broker.subscriber(stream=StreamSub(Streams.JOB_EVENTS.name, last_id="0"))
    async def on_job_event(event: AnyJobEvent) -> None:
        received.append(event)

    async def answer(payload: Payload, ctx: JobContext) -> dict[str, int]:
        return {"n": payload.n}

    await broker.start()
    try:
        worker = make_worker(answer)
        await worker.start()
        await enqueue(redis, queued_job("f1", payload={"n": 3}, actor="user-1"))

        async def got_completed() -> bool:
            return any(isinstance(e, JobCompleted) for e in received)

        await wait_until(got_completed)
    finally:
        await broker.stop()

    completed = next(e for e in received if isinstance(e, JobCompleted))
    assert completed.job_id == "f1"
    assert completed.result == {"n": 3}
    assert completed.meta.correlation_id == "corr-f1"
    assert completed.meta.actor == "user-1"
    assert [type(e).__name__ for e in received] == ["JobActive", "JobCompleted"]
