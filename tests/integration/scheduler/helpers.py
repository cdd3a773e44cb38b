"""Reading queue streams and waiting on conditions, for the scheduler's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar, cast

from redis.asyncio import Redis

from chartwise_contracts.jobs import JOB_GROUP, QUEUE_ENTRY_FIELD, JobActive, JobCompleted, QueuedJob
from chartwise_contracts.streams import queue_stream

T = TypeVar("T")


async def queued(redis: Redis, queue: str) -> list[QueuedJob]:
    """Every job released into the queue's stream so far, oldest first."""
    entries = await redis.xrange(queue_stream(queue))
    return [QueuedJob.model_validate_json(fields[QUEUE_ENTRY_FIELD]) for _, fields in entries]


async def take(redis: Redis, queue: str, *, consumer: str = "w1", count: int = 100) -> list[QueuedJob]:
    """Reads new entries as a worker of the queue's consumer group would."""
    read = await redis.xreadgroup(JOB_GROUP, consumer, {queue_stream(queue): ">"}, count=count)
    if not read:
        return []
    entries = cast(list[tuple[str, dict[str, str]]], read[0][1])
    return [QueuedJob.model_validate_json(fields[QUEUE_ENTRY_FIELD]) for _, fields in entries]


def active(job: QueuedJob) -> JobActive:
    return JobActive.new(
        job_id=job.job_id,
        queue=job.queue,
        name=job.name,
        attempt=job.attempt,
        worker="w1",
        started_at=datetime.now(UTC),
    )


def completed(job: QueuedJob, result: object = None, *, at: datetime | None = None) -> JobCompleted:
    return JobCompleted.new(
        job_id=job.job_id,
        queue=job.queue,
        name=job.name,
        attempt=job.attempt,
        result=result,
        finished_at=at or datetime.now(UTC),
    )
