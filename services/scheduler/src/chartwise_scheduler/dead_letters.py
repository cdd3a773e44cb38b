"""The dead letters of the queues, read and replayed for operators; the scheduler owns the queues they came from."""

from __future__ import annotations

from redis.asyncio import Redis

from chartwise_contracts import utcnow
from chartwise_contracts.scheduler import (
    DeadLetterReplayed,
    DeadLettersPage,
    DeadLetterView,
    ListDeadLetters,
    ReplayDeadLetter,
)
from chartwise_runtime.logging import get_logger
from chartwise_runtime.worker import DeadLetter, DeadLetters
from chartwise_scheduler.store import JobStore

log = get_logger(__name__)


def _view(letter: DeadLetter) -> DeadLetterView:
    job = letter.job
    return DeadLetterView(
        entry_id=letter.entry_id,
        job_id=job.job_id,
        queue=job.queue,
        name=job.name,
        payload=job.payload,
        error=letter.error,
        attempts=letter.attempts,
        failed_at=letter.failed_at,
    )


async def list_dead_letters(query: ListDeadLetters, raw_redis: Redis) -> DeadLettersPage:
    """`raw_redis` answers bytes, as the worker kit's dead-letter reader expects."""
    # One more than asked tells whether another page follows.
    letters = await DeadLetters(raw_redis, query.queue).list(count=query.limit + 1, before=query.before or "+")
    page = letters[: query.limit]
    next_before = page[-1].entry_id if len(letters) > query.limit else None
    return query.cause(DeadLettersPage, queue=query.queue, items=[_view(x) for x in page], next_before=next_before)


async def replay_dead_letter(command: ReplayDeadLetter, raw_redis: Redis, jobs: JobStore) -> DeadLetterReplayed:
    """Reopens the job's record, then puts the job back on its queue; NotFound when it has no dead letter."""
    dead_letters = DeadLetters(raw_redis, command.queue)
    await dead_letters.find(command.job_id)
    # Reopened first, so the replayed run's first event finds a live record rather than a finished one.
    reopened = await jobs.reopen_failed(command.job_id)
    job = await dead_letters.replay(command.job_id)
    log.info("dead letter replayed", queue=command.queue, job_id=command.job_id, record_reopened=reopened)
    return command.cause(DeadLetterReplayed, queue=command.queue, job_id=job.job_id, requeued_at=utcnow())
