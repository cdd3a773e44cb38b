"""The scheduler's clockwork: sleeps until exactly the next due job or slot, then releases all that are due.

It never polls on a fixed period and never relies on a blocking command's timeout (Redis ends those only on
its 100 ms timer tick). A nearer due time wakes it early: locally through an event, and on every replica
through a pub/sub message the scripts publish when they store a new earliest due time.
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from redis.exceptions import RedisError

from chartwise_runtime.logging import get_logger
from chartwise_scheduler.clock import Clock
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore

log = get_logger(__name__)

IDLE_WAKE_S = 30.0
"""Longest sleep with nothing due: a safety net should a wake-up message be lost."""

ERROR_BACKOFF_S = 0.5
STOP_TIMEOUT_S = 2.0


class Timer:
    def __init__(self, jobs: JobStore, schedules: ScheduleStore, clock: Clock, *, release_batch: int = 1_000) -> None:
        self._jobs = jobs
        self._schedules = schedules
        self._clock = clock
        self._batch = release_batch
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        jobs.on_new_due_time(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> int | None:
        """Releases every due job and fires every due slot; returns the next due time (ms) or None."""
        next_job = await self._jobs.release_due(batch=self._batch)
        fired = await self._schedules.fire_due()
        next_slot = await self._schedules.next_due_ms()
        if fired:
            # A fired slot may have stored a job due before the earliest one seen above.
            next_job = await self._earliest_job()
        candidates = [t for t in (next_job, next_slot) if t is not None]
        return min(candidates) if candidates else None

    async def _earliest_job(self) -> int | None:
        first = await self._jobs.redis.zrange(self._jobs.keys.due, 0, 0, withscores=True)
        return int(first[0][1]) if first else None

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                next_due = await self.tick()
            except RedisError as error:
                log.warning("timer tick failed; retrying", error=repr(error))
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            timeout = IDLE_WAKE_S if next_due is None else max(0.0, (next_due - self._clock.now_ms()) / 1000)
            if timeout == 0:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(timeout, IDLE_WAKE_S))

    async def listen(self, redis: Redis) -> None:
        """Wakes the timer on every replica's announcement of a nearer due time."""
        while not self._stopping:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._jobs.keys.wake_channel)
                self.wake()  # anything announced while we were not subscribed
                async for _ in pubsub.listen():
                    self.wake()
            except RedisError as error:
                log.warning("wake-up subscription lost; resubscribing", error=repr(error))
                await asyncio.sleep(ERROR_BACKOFF_S)
            finally:
                with contextlib.suppress(RedisError):
                    await asyncio.wait_for(pubsub.aclose(), timeout=STOP_TIMEOUT_S)  # type: ignore[no-untyped-call]

    async def start(self, redis: Redis) -> None:
        self._stopping = False
        self._tasks = [asyncio.create_task(self.run()), asyncio.create_task(self.listen(redis))]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
        if stuck:
            log.warning("timer tasks did not stop in time", tasks=len(stuck))
        self._tasks = []
