"""Jobs of a dead worker are reclaimed and counted as an attempt; a slow live worker keeps its jobs."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from chartwise_contracts import queue_stream
from chartwise_contracts.jobs import JOB_GROUP, JobActive, JobCompleted, JobFailed
from chartwise_runtime.worker import JobContext, WorkerOptions

from .conftest import Payload, WorkerFactory, enqueue, job_events, kill, kinds, queued_job, settled, wait_until

FAST_LEASES = WorkerOptions(visibility_timeout_s=0.3, heartbeat_interval_s=0.05, block_ms=50)


async def _has(redis: Redis, job_id: str, kind: str) -> bool:
    return kind in await kinds(redis, job_id)


async def test_job_of_a_killed_worker_is_reclaimed_and_completes_once(redis: Redis, make_worker: WorkerFactory) -> None:
    started: list[str] = []
    finished: list[str] = []
    never = asyncio.Event()

    async def hangs(payload: Payload, ctx: JobContext) -> None:
        started.append(ctx.worker)
        await never.wait()

    async def works(payload: Payload, ctx: JobContext) -> str:
        started.append(ctx.worker)
        finished.append(ctx.worker)
        return "ok"

    doomed = make_worker(hangs, consumer="doomed", options=FAST_LEASES)
    await doomed.start()
    await enqueue(redis, queued_job("k1", max_attempts=3))

    async def doomed_started() -> bool:
        return started == ["doomed"]

    await wait_until(doomed_started)
    kill(doomed)
    survivor = make_worker(works, consumer="survivor", options=FAST_LEASES)
    await survivor.start()

    await wait_until(lambda: _has(redis, "k1", "JobCompleted"))
    await wait_until(lambda: settled(redis))

    assert started == ["doomed", "survivor"]
    assert finished == ["survivor"]
    events = await job_events(redis, "k1")
    assert [(e.worker, e.attempt) for e in events if isinstance(e, JobActive)] == [("doomed", 1), ("survivor", 2)]
    completed = [e for e in events if isinstance(e, JobCompleted)]
    assert [(e.attempt, e.result) for e in completed] == [(2, "ok")]


async def test_stalled_job_on_its_last_attempt_is_dead_lettered(redis: Redis, make_worker: WorkerFactory) -> None:
    calls = 0

    async def count(payload: Payload, ctx: JobContext) -> None:
        nonlocal calls
        calls += 1

    await redis.xgroup_create(queue_stream("test-queue"), JOB_GROUP, id="0", mkstream=True)
    await enqueue(redis, queued_job("s1", max_attempts=1))
    # A consumer that takes the job and dies: it never acks and never renews its lease.
    await redis.xreadgroup(JOB_GROUP, "dead", {queue_stream("test-queue"): ">"}, count=10)
    worker = make_worker(count, options=FAST_LEASES)
    await worker.start()

    await wait_until(lambda: _has(redis, "s1", "JobFailed"))
    await wait_until(lambda: settled(redis))

    failed = (await job_events(redis, "s1"))[-1]
    assert isinstance(failed, JobFailed)
    assert failed.attempt == 1
    assert failed.error.startswith("stalled")
    assert calls == 0
    assert [letter.job.job_id for letter in await worker.dead_letters.list()] == ["s1"]


async def test_heartbeat_keeps_a_slow_job_from_running_twice(redis: Redis, make_worker: WorkerFactory) -> None:
    runs: list[str] = []

    async def slow(payload: Payload, ctx: JobContext) -> None:
        runs.append(ctx.worker)
        # Simulated slow work: three times the visibility timeout.
        await asyncio.sleep(0.9)

    first = make_worker(slow, consumer="first", options=FAST_LEASES)
    await first.start()
    await enqueue(redis, queued_job("h1", max_attempts=3))

    async def running() -> bool:
        return runs == ["first"]

    await wait_until(running)
    second = make_worker(slow, consumer="second", options=FAST_LEASES)
    await second.start()

    await wait_until(lambda: _has(redis, "h1", "JobCompleted"))
    await wait_until(lambda: settled(redis))

    assert runs == ["first"]
    assert await kinds(redis, "h1") == ["JobActive", "JobCompleted"]
