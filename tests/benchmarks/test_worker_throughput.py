"""Worker kit benchmarks: no-op job throughput at concurrency 10, and Redis memory across 100,000 jobs.

Each writes its section of docs/benchmarks.md. Run with `-m benchmark`; the machine's load average is
recorded with the figures, since the benchmarks share the machine with whatever else runs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from chartwise_contracts import Streams, StreamSpec, queue_stream
from chartwise_contracts.jobs import JOB_GROUP, QUEUE_ENTRY_FIELD, QueuedJob
from chartwise_runtime.worker import JobContext, Worker, WorkerOptions
from chartwise_runtime.worker.leases import started_key
from tests.benchmarks.report import write_section

CONCURRENCY = 10
QUEUE = "bench-noop"
THROUGHPUT_SECTION = "## Worker kit: no-op job throughput"
MEMORY_SECTION = "## Worker kit: Redis memory across 100,000 jobs"


class Empty(BaseModel):
    pass


async def _noop(payload: Empty, ctx: JobContext) -> None:
    return None


async def _enqueue(redis: Redis, count: int, *, first: int = 0) -> None:
    """Writes queue entries as the scheduler does: field `job`, a `QueuedJob` as JSON."""
    now = datetime.now(UTC)
    for start in range(first, first + count, 1_000):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(start + 1_000, first + count)):
            job = QueuedJob(job_id=f"b{i}", queue=QUEUE, name="noop", enqueued_at=now)
            pipe.xadd(queue_stream(QUEUE), {QUEUE_ENTRY_FIELD: job.model_dump_json()})
        await pipe.execute()


def _counting_worker(redis_url: str, total: int, options: WorkerOptions | None = None) -> tuple[Worker[Empty], Counter]:
    worker = Worker(
        QUEUE,
        _noop,
        payload_type=Empty,
        redis_url=redis_url,
        consumer="bench",
        concurrency=CONCURRENCY,
        options=options,
    )
    counter = Counter(total)
    worker.on_completed(counter.count)
    return worker, counter


class Counter:
    """Counts completed jobs and signals each time `step` more have completed."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.completed = 0
        self.reached = asyncio.Event()

    async def count(self, _: object) -> None:
        self.completed += 1
        if self.completed % self.step == 0:
            self.reached.set()

    async def wait_for(self, completed: int) -> None:
        while self.completed < completed:
            self.reached.clear()
            await asyncio.wait_for(self.reached.wait(), timeout=120)


@dataclass(frozen=True)
class Round:
    seconds: float
    load: float

    @property
    def rate(self) -> float:
        return THROUGHPUT_JOBS / self.seconds


THROUGHPUT_JOBS = 20_000
ROUNDS = 5


async def _throughput_round(redis: Redis, redis_url: str) -> Round:
    await redis.flushdb()
    await redis.xgroup_create(queue_stream(QUEUE), JOB_GROUP, id="0", mkstream=True)
    await _enqueue(redis, THROUGHPUT_JOBS)
    worker, counter = _counting_worker(redis_url, THROUGHPUT_JOBS)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    await worker.start()
    await counter.wait_for(THROUGHPUT_JOBS)
    await worker.stop(drain_timeout=10)
    elapsed = time.perf_counter() - started

    assert int(await redis.xlen(queue_stream(QUEUE))) == 0
    assert (await redis.xpending(queue_stream(QUEUE), JOB_GROUP))["pending"] == 0
    assert int(await redis.xlen(Streams.JOB_EVENTS.name)) == 2 * THROUGHPUT_JOBS
    assert int(await redis.hlen(started_key(queue_stream(QUEUE)))) == 0
    return Round(elapsed, load)


@pytest.mark.benchmark
async def test_noop_job_throughput_at_concurrency_10(redis: Redis, redis_url: str) -> None:
    rounds = [await _throughput_round(redis, redis_url) for _ in range(ROUNDS)]

    rows = "".join(
        f"| {i} | {THROUGHPUT_JOBS:,} | {r.seconds:.2f} | {r.rate:,.0f} | {r.load:.1f} |\n"
        for i, r in enumerate(rounds, start=1)
    )
    median = statistics.median(r.rate for r in rounds)
    print(  # noqa: T201 - the benchmark's report
        f"\nworker kit: {THROUGHPUT_JOBS} no-op jobs at concurrency {CONCURRENCY}: "
        + ", ".join(f"{r.rate:,.0f} jobs/s (load {r.load:.1f})" for r in rounds)
    )
    write_section(
        THROUGHPUT_SECTION,
        f"{THROUGHPUT_SECTION}\n\n"
        f"{THROUGHPUT_JOBS:,} no-op jobs per round, concurrency {CONCURRENCY}, one worker process (default read-ahead: "
        f"{2 * CONCURRENCY} entries), each job acked, deleted from its queue and reported by a `JobActive` (written "
        f"before its handler runs) and a `JobCompleted` event; measured from `start()` until `stop()` has written "
        f"the last outcome, on {datetime.now(UTC):%Y-%m-%d}. The machine's 2 cores were shared with other work; "
        f"the one-minute load average at the start of each round is given; a round lasts a few seconds, so its "
        f"figure depends on what else ran in those seconds more than the one-minute mean shows. Target: BullMQ on "
        f"the same machine, ~10,700 jobs/s. docs/decisions/2026-11-21-worker-kit-consumption.md compares the kit "
        f"before and after its throughput work, run alternately in the same minutes.\n\n"
        f"| round | jobs | seconds | jobs/s | load average |\n"
        f"|---:|---:|---:|---:|---:|\n"
        f"{rows}\n"
        f"Median: {median:,.0f} jobs/s.\n",
    )


MEMORY_JOBS = 100_000
MEMORY_BATCH = 10_000
EVENTS_CAP = 20_000
"""Below the production cap (`Streams.JOB_EVENTS.maxlen`) so that trimming starts within the run."""


@dataclass(frozen=True)
class Sample:
    processed: str
    used_memory: int
    queue_length: int
    events_length: int
    start_marks: int


async def _sample(redis: Redis, processed: str, events: str) -> Sample:
    info = await redis.info("memory")
    return Sample(
        processed=processed,
        used_memory=int(info["used_memory"]),
        queue_length=int(await redis.xlen(queue_stream(QUEUE))),
        events_length=int(await redis.xlen(events)),
        start_marks=int(await redis.hlen(started_key(queue_stream(QUEUE)))),
    )


@pytest.mark.benchmark
async def test_redis_memory_stays_flat_across_100k_jobs(redis: Redis, redis_url: str) -> None:
    events = StreamSpec(Streams.JOB_EVENTS.name, maxlen=EVENTS_CAP)
    await redis.xgroup_create(queue_stream(QUEUE), JOB_GROUP, id="0", mkstream=True)
    worker, counter = _counting_worker(redis_url, MEMORY_BATCH, WorkerOptions(events=events))
    await worker.start()
    samples = [await _sample(redis, "0", events.name)]
    load = os.getloadavg()[0]
    try:
        for first in range(0, MEMORY_JOBS, MEMORY_BATCH):
            await _enqueue(redis, MEMORY_BATCH, first=first)
            await counter.wait_for(first + MEMORY_BATCH)
            await _wait_settled(redis)
            samples.append(await _sample(redis, f"{first + MEMORY_BATCH:,}", events.name))
    finally:
        await worker.stop(drain_timeout=10)
    samples.append(await _sample(redis, f"{MEMORY_JOBS:,}, worker stopped", events.name))

    # The queue holds only unfinished work and the start marks go with the acks: both end empty.
    assert all(s.queue_length == 0 and s.start_marks == 0 for s in samples[1:])
    # Approximate trimming keeps whole stream nodes (100 entries by default) beyond the cap, never more.
    # Two events a job: the stream reaches its cap after EVENTS_CAP / 2 jobs; the plateau is every sample after.
    plateau = samples[1 + (EVENTS_CAP // 2) // MEMORY_BATCH :]
    assert all(EVENTS_CAP <= s.events_length <= EVENTS_CAP + 200 for s in plateau)
    # Once the event stream is at its cap, memory stops growing: the spread of the plateau is a small
    # fraction of what the capped stream itself takes.
    footprint = plateau[0].used_memory - samples[0].used_memory
    spread = max(s.used_memory for s in plateau) - min(s.used_memory for s in plateau)
    assert spread < 0.25 * footprint + 1_000_000, (spread, footprint)

    per_event = footprint / plateau[0].events_length
    rows = "".join(
        f"| {s.processed} | {s.used_memory / 1e6:.2f} | {s.queue_length:,} | {s.events_length:,} | {s.start_marks} |\n"
        for s in samples
    )
    print(f"\nworker kit memory: {[(s.processed, s.used_memory, s.events_length) for s in samples]}")  # noqa: T201
    write_section(
        MEMORY_SECTION,
        f"{MEMORY_SECTION}\n\n"
        f"{MEMORY_JOBS:,} no-op jobs through one queue in batches of {MEMORY_BATCH:,} (entries written as the "
        f"scheduler writes them), one worker at concurrency {CONCURRENCY}; after each batch, Redis `INFO memory` "
        f"`used_memory`, the queue stream's length, the job event stream's length and the number of start marks. "
        f"The event stream is capped at {EVENTS_CAP:,} here (`MAXLEN ~`, the production cap is "
        f"{Streams.JOB_EVENTS.maxlen:,}) so the plateau shows within the run. Measured on "
        f"{datetime.now(UTC):%Y-%m-%d}, load average {load:.1f}.\n\n"
        f"| jobs processed | used_memory (MB) | queue length | event stream length | start marks |\n"
        f"|---:|---:|---:|---:|---:|\n"
        f"{rows}\n"
        f"The queue ends every batch empty (entries are deleted with their ack) and the event stream stays at its "
        f"cap; memory on the plateau varies by {spread / 1e6:.2f} MB. At about {per_event:,.0f} bytes per event, "
        f"the production cap of {Streams.JOB_EVENTS.maxlen:,} events bounds the stream near "
        f"{per_event * Streams.JOB_EVENTS.maxlen / 1e6:,.0f} MB.\n",
    )


async def _wait_settled(redis: Redis) -> None:
    deadline = time.monotonic() + 30
    while int(await redis.xlen(queue_stream(QUEUE))) or int(await redis.hlen(started_key(queue_stream(QUEUE)))):
        if time.monotonic() > deadline:
            raise AssertionError("queue did not settle")
        await asyncio.sleep(0.01)
