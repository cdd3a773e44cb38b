"""Failed runs are retried with backoff, then dead-lettered with their error; dead letters replay."""

from __future__ import annotations

from redis.asyncio import Redis

from chartwise_contracts import dead_letter_stream
from chartwise_contracts.jobs import Backoff, JobCompleted, JobFailed, JobRetrying
from chartwise_runtime.worker import DoNotRetry, JobContext, LocalRetries

from .conftest import Payload, WorkerFactory, enqueue, job_events, kinds, queued_job, settled, wait_until


async def _has(redis: Redis, job_id: str, kind: str) -> bool:
    return kind in await kinds(redis, job_id)


async def test_failed_runs_are_retried_after_their_backoff_then_succeed(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    attempts: list[int] = []

    async def flaky(payload: Payload, ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("provider unavailable")
        return "done"

    worker = make_worker(flaky, retries=LocalRetries())
    await worker.start()
    backoff = Backoff(kind="exponential", delay_ms=50, jitter=0)
    await enqueue(redis, queued_job("r1", max_attempts=3, backoff=backoff))

    await wait_until(lambda: _has(redis, "r1", "JobCompleted"))

    events = await job_events(redis, "r1")
    assert [type(e).__name__ for e in events] == [
        "JobActive",
        "JobRetrying",
        "JobActive",
        "JobRetrying",
        "JobActive",
        "JobCompleted",
    ]
    retrying = [e for e in events if isinstance(e, JobRetrying)]
    assert [e.attempt for e in retrying] == [1, 2]
    assert [e.job.attempt for e in retrying] == [2, 3]
    assert retrying[0].error == "ConnectionError: provider unavailable"
    # Exponential backoff: 50 ms after the first failure, 100 ms after the second.
    assert [round((e.next_run_at - e.meta.occurred_at).total_seconds() * 1000) for e in retrying] == [50, 100]
    starts = [e.meta.occurred_at for e in events if type(e).__name__ == "JobActive"]
    assert (starts[1] - retrying[0].next_run_at).total_seconds() >= -0.002
    assert (starts[2] - retrying[1].next_run_at).total_seconds() >= -0.002
    assert attempts == [1, 2, 3]
    completed = events[-1]
    assert isinstance(completed, JobCompleted)
    assert completed.attempt == 3
    assert await settled(redis)


async def test_last_failure_lands_in_the_dead_letter_stream_with_its_error(
    redis: Redis, make_worker: WorkerFactory
) -> None:
    async def broken(payload: Payload, ctx: JobContext) -> None:
        raise ValueError(f"cannot read chart {payload.n}")

    worker = make_worker(broken, retries=LocalRetries())
    await worker.start()
    await enqueue(redis, queued_job("d1", payload={"n": 9}, max_attempts=2))

    await wait_until(lambda: _has(redis, "d1", "JobFailed"))
    await wait_until(lambda: settled(redis))

    failed = (await job_events(redis, "d1"))[-1]
    assert isinstance(failed, JobFailed)
    assert failed.attempt == 2
    assert failed.error == "ValueError: cannot read chart 9"
    assert failed.dead_lettered
    letters = await worker.dead_letters.list()
    assert [(letter.job.job_id, letter.error, letter.attempts) for letter in letters] == [
        ("d1", "ValueError: cannot read chart 9", 2)
    ]
    assert letters[0].job.payload == {"n": 9}


async def test_do_not_retry_and_invalid_payload_fail_at_once(redis: Redis, make_worker: WorkerFactory) -> None:
    async def refuse(payload: Payload, ctx: JobContext) -> None:
        raise DoNotRetry("chart image is not a chart")

    worker = make_worker(refuse, retries=LocalRetries())
    await worker.start()
    await enqueue(
        redis,
        queued_job("bad-input", max_attempts=5),
        queued_job("bad-payload", payload={"n": "not a number"}, max_attempts=5),
    )

    await wait_until(lambda: _has(redis, "bad-input", "JobFailed"))
    await wait_until(lambda: _has(redis, "bad-payload", "JobFailed"))

    assert await kinds(redis, "bad-input") == ["JobActive", "JobFailed"]
    assert await kinds(redis, "bad-payload") == ["JobActive", "JobFailed"]
    errors = {letter.job.job_id: letter.error for letter in await worker.dead_letters.list()}
    assert errors["bad-input"] == "DoNotRetry: chart image is not a chart"
    assert errors["bad-payload"].startswith("DoNotRetry: invalid payload")
    assert {letter.attempts for letter in await worker.dead_letters.list()} == {1}


async def test_replay_puts_a_dead_letter_back_as_a_fresh_job(redis: Redis, make_worker: WorkerFactory) -> None:
    fixed = False

    async def until_fixed(payload: Payload, ctx: JobContext) -> int:
        if not fixed:
            raise RuntimeError("bug")
        return ctx.attempt

    worker = make_worker(until_fixed)
    await worker.start()
    await enqueue(redis, queued_job("x1", max_attempts=1))
    await wait_until(lambda: _has(redis, "x1", "JobFailed"))
    await wait_until(lambda: _dead_letters(redis, 1))

    fixed = True
    replayed = await worker.replay("x1")

    assert replayed.attempt == 1
    await wait_until(lambda: _has(redis, "x1", "JobCompleted"))
    completed = (await job_events(redis, "x1"))[-1]
    assert isinstance(completed, JobCompleted)
    assert completed.result == 1
    assert await worker.dead_letters.list() == []
    assert await _dead_letters(redis, 0)


async def test_dead_letter_stream_is_capped(redis: Redis, make_worker: WorkerFactory) -> None:
    from chartwise_runtime.worker import WorkerOptions

    async def broken(payload: Payload, ctx: JobContext) -> None:
        raise ValueError("no")

    worker = make_worker(broken, options=WorkerOptions(dead_letter_cap=10), concurrency=10)
    await worker.start()
    await enqueue(redis, *(queued_job(f"c{i}") for i in range(400)))
    await wait_until(lambda: settled(redis))
    await worker.stop(drain_timeout=1.0)

    # Approximate trimming keeps whole macro nodes, so the cap bounds the stream loosely, not exactly.
    assert 10 <= int(await redis.xlen(dead_letter_stream("test-queue"))) < 400


async def _dead_letters(redis: Redis, count: int) -> bool:
    return int(await redis.xlen(dead_letter_stream("test-queue"))) == count
