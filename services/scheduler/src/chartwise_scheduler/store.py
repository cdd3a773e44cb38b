"""Job records in Redis: every write goes through one atomic script, reads through the indexes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from chartwise_contracts import new_id
from chartwise_contracts.jobs import JobState, QueuedJob
from chartwise_contracts.scheduler import JobRequest, JobView
from chartwise_runtime.errors import InvalidInput
from chartwise_scheduler.clock import Clock, from_ms, to_ms
from chartwise_scheduler.records import job_view, retention_fields
from chartwise_scheduler.scripts import Keys, Scripts

COUNTED_STATES = tuple(JobState)


@dataclass(frozen=True)
class NewJob:
    """A job ready to be stored: its id, when it is due, and the run workers will receive."""

    run: QueuedJob
    request: JobRequest
    due_ms: int
    schedule_id: str = ""

    def script_args(self) -> list[str | int]:
        options = self.request.options
        done_count, done_age = retention_fields(options.remove_on_complete)
        fail_count, fail_age = retention_fields(options.remove_on_fail)
        return [
            self.run.job_id,
            self.run.queue,
            self.run.name,
            self.run.model_dump_json(),
            self.due_ms,
            self.run.max_attempts,
            done_count,
            done_age,
            fail_count,
            fail_age,
            self.request.parent_id or "",
            self.schedule_id,
        ]


def new_job(
    request: JobRequest,
    *,
    now_ms: int,
    job_id: str | None = None,
    schedule_id: str = "",
    correlation_id: str = "",
    actor: str | None = None,
) -> NewJob:
    due = to_ms(request.run_at) if request.run_at is not None else now_ms + (request.delay_ms or 0)
    options = request.options
    run = QueuedJob(
        job_id=job_id or request.job_id or new_id(),
        queue=request.queue,
        name=request.name,
        payload=request.payload,
        attempt=1,
        max_attempts=options.attempts,
        backoff=options.backoff,
        timeout_ms=options.timeout_ms,
        enqueued_at=from_ms(now_ms),
        correlation_id=correlation_id,
        actor=actor,
    )
    return NewJob(run=run, request=request, due_ms=due, schedule_id=schedule_id)


class JobStore:
    def __init__(self, redis: Redis, clock: Clock, *, keys: Keys | None = None) -> None:
        self.redis = redis
        self.clock = clock
        self.keys = keys or Keys()
        self.scripts = Scripts(redis, clock, self.keys)
        self._listeners: list[Callable[[], None]] = []

    def on_new_due_time(self, listener: Callable[[], None]) -> None:
        """Calls `listener` whenever this process stores a job that is due later (the timer may need to wake)."""
        self._listeners.append(listener)

    def notify_due_changed(self) -> None:
        for listener in self._listeners:
            listener()

    async def enqueue(
        self, request: JobRequest, *, correlation_id: str = "", actor: str | None = None
    ) -> tuple[JobView, bool]:
        return (await self.enqueue_many([request], correlation_id=correlation_id, actor=actor))[0]

    async def enqueue_many(
        self, requests: Sequence[JobRequest], *, correlation_id: str = "", actor: str | None = None
    ) -> list[tuple[JobView, bool]]:
        """Stores the jobs (a caller-chosen id that exists already is left as it is) and returns each record."""
        await self._check_parents(requests)
        now = self.clock.now_ms()
        jobs = [new_job(r, now_ms=now, correlation_id=correlation_id, actor=actor) for r in requests]
        async with self.redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                await self.scripts.run("enqueue", *job.script_args(), client=pipe)
            outcomes: list[list[Any]] = await pipe.execute()
        if any(state == JobState.DELAYED for _, state in outcomes):
            self.notify_due_changed()
        views = await self.get_many([job.run.job_id for job in jobs])
        results: list[tuple[JobView, bool]] = []
        for job, view, (created, _) in zip(jobs, views, outcomes, strict=True):
            if view is None:
                # Only possible when a retention of "remove at once" finished the job within this call.
                raise InvalidInput(f"job {job.run.job_id} was removed as soon as it was stored")
            results.append((view, created == 1))
        return results

    async def _check_parents(self, requests: Sequence[JobRequest]) -> None:
        parents = sorted({r.parent_id for r in requests if r.parent_id})
        if not parents:
            return
        exists = await self.redis.exists(*[self.keys.job(p) for p in parents])
        if exists != len(parents):
            raise InvalidInput("a parent job does not exist", details={"parent_ids": parents})

    async def get(self, job_id: str) -> JobView | None:
        return (await self.get_many([job_id]))[0]

    async def get_many(self, job_ids: Sequence[str]) -> list[JobView | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(self.keys.job(job_id))
            records: list[dict[str, str]] = await pipe.execute()
        return [job_view(r) if r else None for r in records]

    async def find(
        self, *, queue: str, name: str, state: JobState | None, offset: int, limit: int
    ) -> tuple[list[JobView], int]:
        """Jobs of one name, newest first, read from the name index (never by scanning records)."""
        index = self.keys.name(queue, name) if state is None else self.keys.name_state(queue, name, state)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(index, offset, offset + limit - 1)
            pipe.zcard(index)
            ids, total = await pipe.execute()
        views = await self.get_many(ids)
        return [v for v in views if v is not None], int(total)

    async def counts(self, queue: str) -> tuple[dict[JobState, int], bool]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for state in COUNTED_STATES:
                pipe.zcard(self.keys.state(queue, state))
            pipe.sismember(self.keys.paused, queue)
            *cards, paused = await pipe.execute()
        return dict(zip(COUNTED_STATES, (int(c) for c in cards), strict=True)), bool(paused)

    async def pause(self, queue: str) -> None:
        await self.redis.sadd(self.keys.paused, queue)

    async def resume(self, queue: str, *, batch: int = 500) -> int:
        released = 0
        while True:
            moved, left = await self.scripts.run("resume_queue", queue, batch)
            released += int(moved)
            if not int(left) or not int(moved):
                return released

    async def clean(self, *, queue: str, state: JobState, older_than_ms: int, limit: int) -> list[str]:
        bound = self.clock.now_ms() - older_than_ms
        suffix = self.keys.state(queue, state).removeprefix(self.keys.prefix)
        ids: list[str] = await self.scripts.run("remove_older", suffix, bound, limit)
        return ids

    async def sweep_expired(self, *, batch: int = 500, max_batches: int = 100) -> int:
        """Removes records whose retention age has passed, in bounded batches."""
        suffix = self.keys.expiry.removeprefix(self.keys.prefix)
        removed = 0
        for _ in range(max_batches):
            ids = await self.scripts.run("remove_older", suffix, self.clock.now_ms(), batch)
            removed += len(ids)
            if len(ids) < batch:
                break
        return removed

    async def cancel(self, job_id: str, *, reason: str, signal_ttl_ms: int) -> str:
        """Returns `cancelled` (removed before it ran), `signalled` (asked to stop), `finished` or `missing`."""
        outcome: str = await self.scripts.run("cancel", job_id, reason, signal_ttl_ms)
        return outcome

    async def reopen_failed(self, job_id: str) -> bool:
        """Puts a failed job's record back to waiting at attempt 1, for a replay of its dead letter."""
        return bool(await self.scripts.run("reopen_job", job_id))

    async def unfinished_ids(self, *, queue: str, name: str) -> list[str]:
        states = (JobState.DELAYED, JobState.PAUSED, JobState.WAITING, JobState.ACTIVE)
        async with self.redis.pipeline(transaction=False) as pipe:
            for state in states:
                pipe.zrange(self.keys.name_state(queue, name, state), 0, -1)
            found: list[list[str]] = await pipe.execute()
        return [job_id for ids in found for job_id in ids]

    async def release_due(self, *, batch: int = 1_000) -> int | None:
        """Moves every due job to its queue, `batch` at a time; returns the next due time (ms), if any."""
        while True:
            moved, next_due = await self.scripts.run("release_due", batch)
            next_due = int(next_due)
            if int(moved) < batch or next_due > self.clock.now_ms():
                return None if next_due < 0 else next_due
