"""No-op job throughput of the worker kit at concurrency 10; writes its section of docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from chartwise_contracts import Streams, queue_stream
from chartwise_contracts.jobs import JOB_GROUP, QUEUE_ENTRY_FIELD, QueuedJob
from chartwise_runtime.worker import JobContext, Worker

JOBS = 20_000
CONCURRENCY = 10
QUEUE = "bench-noop"
BENCHMARKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
SECTION = "## Worker kit: no-op job throughput"


class Empty(BaseModel):
    pass


async def _noop(payload: Empty, ctx: JobContext) -> None:
    return None


async def _enqueue(redis: Redis, count: int) -> None:
    now = datetime.now(UTC)
    for start in range(0, count, 1_000):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(start + 1_000, count)):
            job = QueuedJob(job_id=f"b{i}", queue=QUEUE, name="noop", enqueued_at=now)
            pipe.xadd(queue_stream(QUEUE), {QUEUE_ENTRY_FIELD: job.model_dump_json()})
        await pipe.execute()


def _write_section(text: str) -> None:
    existing = BENCHMARKS_DOC.read_text() if BENCHMARKS_DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.DOTALL)
    if pattern.search(existing):
        updated = pattern.sub(lambda _: text.rstrip("\n"), existing)
    else:
        updated = existing.rstrip("\n") + "\n\n" + text
    BENCHMARKS_DOC.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_DOC.write_text(updated.rstrip("\n") + "\n")


@pytest.mark.benchmark
async def test_noop_job_throughput_at_concurrency_10(redis: Redis, redis_url: str) -> None:
    await redis.xgroup_create(queue_stream(QUEUE), JOB_GROUP, id="0", mkstream=True)
    await _enqueue(redis, JOBS)
    done = asyncio.Event()
    completed = 0
    worker = Worker(QUEUE, _noop, payload_type=Empty, redis_url=redis_url, consumer="bench", concurrency=CONCURRENCY)

    @worker.on_completed
    async def count(_: object) -> None:
        nonlocal completed
        completed += 1
        if completed == JOBS:
            done.set()

    started = time.perf_counter()
    await worker.start()
    await asyncio.wait_for(done.wait(), timeout=120)
    await worker.stop(drain_timeout=10)
    elapsed = time.perf_counter() - started

    assert int(await redis.xlen(queue_stream(QUEUE))) == 0
    assert (await redis.xpending(queue_stream(QUEUE), JOB_GROUP))["pending"] == 0
    assert int(await redis.xlen(Streams.JOB_EVENTS.name)) == 2 * JOBS
    rate = JOBS / elapsed
    print(f"\nworker kit: {JOBS} no-op jobs at concurrency {CONCURRENCY} in {elapsed:.2f}s = {rate:,.0f} jobs/s")  # noqa: T201 - the benchmark's report
    _write_section(
        f"{SECTION}\n\n"
        f"{JOBS:,} no-op jobs, concurrency {CONCURRENCY}, one worker process, each job acked, deleted from its queue "
        f"and reported by a `JobActive` and a `JobCompleted` event; measured from `start()` until `stop()` has "
        f"written the last outcome, on {datetime.now(UTC):%Y-%m-%d}, with a one-minute load average of "
        f"{os.getloadavg()[0]:.1f} on the machine's cores.\n\n"
        f"| jobs | seconds | jobs/s | target (BullMQ, same machine) |\n"
        f"|---:|---:|---:|---:|\n"
        f"| {JOBS:,} | {elapsed:.2f} | {rate:,.0f} | ~10,700 |\n"
    )
