"""Jobs of a dead worker are reclaimed: a run that started counts as an attempt, an entry only read does not."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from redis.asyncio import Redis
from structlog.testing import capture_logs

from chartwise_contracts import queue_stream
from chartwise_contracts.jobs import JOB_GROUP, JobActive, JobCompleted, JobFailed, JobRetrying
from chartwise_runtime.worker import JobContext, Worker, WorkerOptions
from chartwise_runtime.worker.leases import started_key

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
    survivor_calls = 0
    started = asyncio.Event()
    never = asyncio.Event()

    async def hangs(payload: Payload, ctx: JobContext) -> None:
        started.set()
        await never.wait()

    async def count(payload: Payload, ctx: JobContext) -> None:
        nonlocal survivor_calls
        survivor_calls += 1

    # A worker that starts the job and dies: it never acks and never renews its lease.
    doomed = make_worker(hangs, consumer="doomed", options=FAST_LEASES)
    await doomed.start()
    await enqueue(redis, queued_job("s1", max_attempts=1))
    await asyncio.wait_for(started.wait(), timeout=10)
    kill(doomed)
    worker = make_worker(count, consumer="survivor", options=FAST_LEASES)
    await worker.start()

    await wait_until(lambda: _has(redis, "s1", "JobFailed"))
    await wait_until(lambda: settled(redis))

    failed = (await job_events(redis, "s1"))[-1]
    assert isinstance(failed, JobFailed)
    assert failed.attempt == 1
    assert failed.error.startswith("stalled")
    assert survivor_calls == 0
    assert [letter.job.job_id for letter in await worker.dead_letters.list()] == ["s1"]
    assert await redis.hlen(started_key(queue_stream("test-queue"))) == 0


async def test_stalled_job_on_its_last_attempt_calls_the_failed_hooks_once_it_is_dead_lettered(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    started = asyncio.Event()
    never = asyncio.Event()
    seen: list[tuple[str, int, bool]] = []

    async def hangs(payload: Payload, ctx: JobContext) -> None:
        started.set()
        await never.wait()

    async def never_called(payload: Payload, ctx: JobContext) -> None:
        raise AssertionError("a stalled job on its last attempt must not run again")

    doomed = make_worker(hangs, consumer="doomed", options=FAST_LEASES)
    await doomed.start()
    await enqueue(redis, queued_job("s2", max_attempts=2, attempt=2))
    await asyncio.wait_for(started.wait(), timeout=10)
    kill(doomed)
    worker = make_worker(never_called, consumer="survivor", options=FAST_LEASES)

    @worker.on_failed
    async def raises(event: JobFailed | JobRetrying) -> None:
        raise RuntimeError("a failing hook changes nothing")

    @worker.on_failed
    async def record(event: JobFailed | JobRetrying) -> None:
        # The hook sees an outcome that is already durable: the dead letter is stored and the entry acked.
        parked = [letter.job.job_id for letter in await worker.dead_letters.list()]
        seen.append((event.job_id, event.attempt, isinstance(event, JobFailed) and parked == ["s2"]))

    async def hook_called() -> bool:
        return bool(seen)

    with capture_logs() as logs:
        await worker.start()
        await wait_until(lambda: _has(redis, "s2", "JobFailed"))
        await wait_until(lambda: settled(redis))
        await wait_until(hook_called)
        await worker.stop(drain_timeout=1.0)

    assert seen == [("s2", 2, True)]
    [hook_failure] = [entry for entry in logs if entry["event"] == "job hook failed"]
    assert (hook_failure["log_level"], hook_failure["job_id"], hook_failure["hook"]) == ("error", "s2", "raises")
    assert [letter.job.job_id for letter in await worker.dead_letters.list()] == ["s2"]
    assert (await kinds(redis, "s2")).count("JobFailed") == 1


async def test_entries_read_but_never_started_by_a_dead_consumer_run_as_their_first_attempt(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    attempts: dict[str, int] = {}

    async def record(payload: Payload, ctx: JobContext) -> None:
        attempts[ctx.job_id] = ctx.attempt

    await redis.xgroup_create(queue_stream("test-queue"), JOB_GROUP, id="0", mkstream=True)
    await enqueue(redis, queued_job("n1", max_attempts=1), queued_job("n2", max_attempts=2))
    # A consumer that reads the entries and dies before starting them.
    await redis.xreadgroup(JOB_GROUP, "dead", {queue_stream("test-queue"): ">"}, count=10)
    worker = make_worker(record, options=FAST_LEASES)
    await worker.start()

    await wait_until(lambda: settled(redis))
    await wait_until(lambda: _has(redis, "n2", "JobCompleted"))

    assert attempts == {"n1": 1, "n2": 1}
    assert await kinds(redis, "n1") == ["JobActive", "JobCompleted"]
    assert await worker.dead_letters.list() == []


async def test_jobs_a_killed_worker_read_ahead_are_reclaimed_without_burning_an_attempt(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    started = asyncio.Event()
    never = asyncio.Event()
    survivor_runs: dict[str, int] = {}

    async def quick_then_hangs(payload: Payload, ctx: JobContext) -> None:
        if payload.n == 1:
            started.set()
            await never.wait()

    async def record(payload: Payload, ctx: JobContext) -> None:
        survivor_runs[ctx.job_id] = ctx.attempt

    doomed = make_worker(quick_then_hangs, consumer="doomed", options=replace(FAST_LEASES, read_ahead=4))
    await doomed.start()
    # Quick jobs first: a worker reads ahead only once it has seen that its jobs are short.
    await enqueue(redis, *(queued_job(f"warm{i}") for i in range(5)))
    await wait_until(lambda: settled(redis))
    await enqueue(redis, queued_job("a0", payload={"n": 1}, max_attempts=1))
    await enqueue(redis, *(queued_job(f"a{i}", max_attempts=1) for i in range(1, 5)))
    await asyncio.wait_for(started.wait(), timeout=10)

    async def all_read() -> bool:
        return int((await redis.xpending(queue_stream("test-queue"), JOB_GROUP))["pending"]) == 5

    await wait_until(all_read)
    kill(doomed)
    survivor = make_worker(record, consumer="survivor", options=FAST_LEASES)
    await survivor.start()

    await wait_until(lambda: settled(redis))
    await wait_until(lambda: _dead_lettered(survivor, 1))

    # The one run that started counted as the job's only attempt; the four read ahead ran as attempt 1.
    assert survivor_runs == {f"a{i}": 1 for i in range(1, 5)}
    failed = [e for e in await job_events(redis, "a0") if isinstance(e, JobFailed)]
    assert [(e.attempt, e.error.startswith("stalled")) for e in failed] == [(1, True)]
    actives = [e for e in await job_events(redis) if isinstance(e, JobActive) and e.job_id.startswith("a")]
    assert sorted((e.job_id, e.worker) for e in actives) == [
        ("a0", "doomed"),
        *((f"a{i}", "survivor") for i in range(1, 5)),
    ]
    assert await redis.hlen(started_key(queue_stream("test-queue"))) == 0


async def _dead_lettered(worker: Worker[Payload], count: int) -> bool:
    return len(await worker.dead_letters.list()) == count


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
