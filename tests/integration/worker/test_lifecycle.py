"""Stopping a worker drains what runs, takes nothing new, and leaves unfinished jobs to other workers."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from chartwise_contracts import queue_stream
from chartwise_contracts.jobs import JOB_GROUP, JobCompleted, QueuedJob
from chartwise_runtime.worker import JobContext, RateLimit, WorkerOptions, worker_hooks

from .conftest import Payload, WorkerFactory, enqueue, job_events, kinds, queued_job, settled, wait_until


async def test_graceful_stop_drains_in_flight_jobs_and_takes_no_new_ones(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    gate = asyncio.Event()
    started: list[str] = []

    async def hold(payload: Payload, ctx: JobContext) -> str:
        started.append(ctx.job_id)
        await gate.wait()
        return ctx.job_id

    worker = make_worker(hold, concurrency=3)
    await worker.start()
    await enqueue(redis, *(queued_job(f"g{i}") for i in range(3)))

    async def three_started() -> bool:
        return len(started) == 3

    await wait_until(three_started)
    stopping = asyncio.create_task(worker.stop(drain_timeout=10.0))
    await wait_until(lambda: _not_taking(worker))
    await enqueue(redis, queued_job("late"))
    gate.set()
    await stopping

    completed = sorted(e.job_id for e in await job_events(redis) if isinstance(e, JobCompleted))
    assert completed == ["g0", "g1", "g2"]
    assert "late" not in started
    assert (await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"] == 0
    assert int(await redis.xlen(queue_stream("test-queue"))) == 1


async def test_job_unfinished_at_the_drain_timeout_stays_pending_for_another_worker(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    never = asyncio.Event()
    started = asyncio.Event()

    async def hangs(payload: Payload, ctx: JobContext) -> None:
        started.set()
        await never.wait()

    worker = make_worker(hangs)
    await worker.start()
    await enqueue(redis, queued_job("u1"))
    await asyncio.wait_for(started.wait(), timeout=10)

    await worker.stop(drain_timeout=0.05)

    pending = await redis.xpending_range(queue_stream("test-queue"), JOB_GROUP, min="-", max="+", count=10)
    assert [p["consumer"] for p in pending] == [b"w1"]
    assert "JobCompleted" not in [type(e).__name__ for e in await job_events(redis)]


async def test_jobs_held_back_by_the_rate_limit_are_handed_back_on_stop(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    async def quick(payload: Payload, ctx: JobContext) -> None:
        return None

    worker = make_worker(quick, concurrency=5, limiter=RateLimit(1, 60.0))
    await worker.start()
    await enqueue(redis, *(queued_job(f"l{i}") for i in range(5)))
    await wait_until(lambda: _completed_count(redis, 1))

    await worker.stop(drain_timeout=1.0)

    assert (await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"] == 0
    assert int(await redis.xlen(queue_stream("test-queue"))) == 4


async def test_jobs_read_ahead_are_handed_back_unstarted_on_stop(redis: Redis, make_worker: WorkerFactory) -> None:
    gate = asyncio.Event()
    started: list[str] = []

    async def hold(payload: Payload, ctx: JobContext) -> None:
        started.append(ctx.job_id)
        if payload.n == 1:
            await gate.wait()

    worker = make_worker(hold, options=WorkerOptions(read_ahead=3))
    await worker.start()
    # Quick jobs first: a worker reads ahead only once it has seen that its jobs are short.
    await enqueue(redis, *(queued_job(f"warm{i}") for i in range(5)))
    await wait_until(lambda: _completed_count(redis, 5))
    await enqueue(redis, queued_job("r0", payload={"n": 1}), *(queued_job(f"r{i}") for i in range(1, 4)))

    async def first_started_rest_read() -> bool:
        pending = int((await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"])
        return started[-1] == "r0" and pending == 4

    await wait_until(first_started_rest_read)
    stopping = asyncio.create_task(worker.stop(drain_timeout=10.0))
    await wait_until(lambda: _not_taking(worker))
    gate.set()
    await stopping

    assert "r1" not in started
    assert "r0" in [e.job_id for e in await job_events(redis) if isinstance(e, JobCompleted)]
    assert (await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"] == 0
    entries = await redis.xrange(queue_stream("test-queue"))
    handed_back = [QueuedJob.model_validate_json(fields[b"job"]) for _, fields in entries]
    assert [(job.job_id, job.attempt) for job in handed_back] == [("r1", 1), ("r2", 1), ("r3", 1)]
    assert await kinds(redis, "r1") == []


async def test_a_worker_whose_jobs_are_slow_reads_no_more_than_its_free_slots(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    pending_at_start: list[int] = []

    async def slow(payload: Payload, ctx: JobContext) -> None:
        pending_at_start.append(int((await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"]))
        # Simulated slow work: longer than the read-ahead horizon.
        await asyncio.sleep(0.1)

    worker = make_worker(slow, concurrency=2, options=WorkerOptions(read_ahead=4))
    await worker.start()
    await enqueue(redis, *(queued_job(f"s{i}") for i in range(6)))

    await wait_until(lambda: settled(redis))

    assert len(pending_at_start) == 6
    assert max(pending_at_start) <= 2


async def test_service_hooks_start_workers_and_drain_them_on_shutdown(redis: Redis, make_worker: WorkerFactory) -> None:
    async def quick(payload: Payload, ctx: JobContext) -> int:
        return payload.n

    worker = make_worker(quick)
    hooks = worker_hooks(worker, drain_timeout_s=1.0)
    for hook in hooks.after_startup:
        await hook()
    assert worker.running
    await enqueue(redis, queued_job("s1", payload={"n": 5}))
    await wait_until(lambda: _completed_count(redis, 1))
    for hook in hooks.on_shutdown:
        await hook()
    assert not worker.running


async def _not_taking(worker: object) -> bool:
    return not getattr(worker, "running", True)


async def _completed_count(redis: Redis, count: int) -> bool:
    return len([e for e in await job_events(redis) if isinstance(e, JobCompleted)]) == count
