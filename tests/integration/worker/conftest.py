"""Helpers for worker tests: enqueue jobs the way the scheduler does, read job events, wait on conditions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from faststream.redis.parser import BinaryMessageFormatV1
from pydantic import BaseModel, JsonValue, TypeAdapter
from redis.asyncio import Redis

from chartwise_contracts import Streams, queue_stream
from chartwise_contracts.jobs import QUEUE_ENTRY_FIELD, AnyJobEvent, Backoff, JobEvent, QueuedJob
from chartwise_devtools.waiting import eventually
from chartwise_runtime.worker import Handler, Worker
from chartwise_runtime.worker.events import EVENT_FIELD

QUEUE = "test-queue"

_events: TypeAdapter[AnyJobEvent] = TypeAdapter(AnyJobEvent)


class Payload(BaseModel):
    n: int = 0


def queued_job(job_id: str, *, payload: dict[str, JsonValue] | None = None, **fields: Any) -> QueuedJob:
    defaults: dict[str, Any] = {"backoff": Backoff(kind="fixed", delay_ms=20, jitter=0)}
    return QueuedJob(
        job_id=job_id,
        queue=QUEUE,
        name="test-job",
        payload=payload if payload is not None else {"n": 0},
        enqueued_at=datetime.now(UTC),
        correlation_id=f"corr-{job_id}",
        **{**defaults, **fields},
    )


async def enqueue(redis: Redis, *jobs: QueuedJob) -> None:
    pipe = redis.pipeline(transaction=False)
    for job in jobs:
        pipe.xadd(queue_stream(job.queue), {QUEUE_ENTRY_FIELD: job.model_dump_json()})
    await pipe.execute()


async def job_events(redis: Redis, job_id: str | None = None) -> list[JobEvent]:
    """Every job event written so far, oldest first, decoded as a FastStream subscriber would."""
    entries = await redis.xrange(Streams.JOB_EVENTS.name)
    events: list[JobEvent] = []
    for _, fields in entries:
        frame = cast("bytes", fields[EVENT_FIELD.encode()])
        body, _headers = BinaryMessageFormatV1.parse(frame)
        event = _events.validate_json(body)
        if job_id is None or event.job_id == job_id:
            events.append(event)
    return events


async def kinds(redis: Redis, job_id: str) -> list[str]:
    return [type(event).__name__ for event in await job_events(redis, job_id)]


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    await eventually(check, timeout=timeout)


async def settled(redis: Redis, queue: str = QUEUE) -> bool:
    """True when the queue holds no entry, pending or not."""
    return int(await redis.xlen(queue_stream(queue))) == 0


WorkerFactory = Callable[..., Worker[Payload]]


@pytest.fixture
async def make_worker(redis: Redis, redis_url: str) -> AsyncIterator[WorkerFactory]:
    """Builds workers on the test queue and stops every one still running at the end of the test."""
    made: list[Worker[Payload]] = []

    def make(handler: Handler[Payload], *, consumer: str = "w1", **kwargs: Any) -> Worker[Payload]:
        worker = Worker(QUEUE, handler, payload_type=Payload, redis_url=redis_url, consumer=consumer, **kwargs)
        made.append(worker)
        return worker

    yield make
    await asyncio.gather(*(worker.stop(drain_timeout=1.0) for worker in made))


def kill(worker: Worker[Any]) -> None:
    """Simulates a killed process: every task of the worker ends at once, nothing is acked or handed back."""
    for task in asyncio.all_tasks():
        if task.get_name().startswith(f"worker:{worker.consumer}:"):
            task.cancel()
