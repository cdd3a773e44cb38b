"""Keeps the usage service's schedules with the scheduler, retrying in the background until it answers."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Protocol

from faststream.redis import RedisBroker

from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    RemoveSchedule,
    RemoveScheduleReply,
    SchedulerOps,
    ScheduleSpec,
    UpsertSchedule,
    UpsertScheduleReply,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_contracts.usage import USAGE_SERVICE
from chartwise_runtime.errors import DomainError, ServiceUnavailable
from chartwise_runtime.logging import get_logger
from chartwise_runtime.rpc import request
from chartwise_usage.maintenance import SchedulePlan

log = get_logger(__name__)

ACTOR = f"service:{USAGE_SERVICE}"
STOP_RECHECK_S = 0.05
"""How often `stop` cancels the registration task again while it has not ended."""


class SchedulerPort(Protocol):
    async def upsert(self, spec: ScheduleSpec) -> bool:
        """Creates or replaces the schedule; True when it was new."""
        ...

    async def remove(self, schedule_id: str) -> bool:
        """True when a schedule was there to remove."""
        ...


class RpcScheduler:
    """The scheduler service over request/reply; raises `ServiceUnavailable` when it does not answer in time."""

    def __init__(self, broker: RedisBroker, *, timeout_s: float) -> None:
        self._broker = broker
        self._timeout_s = timeout_s

    async def upsert(self, spec: ScheduleSpec) -> bool:
        command = UpsertSchedule.new(actor=ACTOR, **spec.model_dump())
        subject = rpc_subject(SCHEDULER_SERVICE, SchedulerOps.UPSERT_SCHEDULE)
        reply = await request(
            self._broker, command, subject=subject, reply_type=UpsertScheduleReply, timeout=self._timeout_s
        )
        return reply.created

    async def remove(self, schedule_id: str) -> bool:
        command = RemoveSchedule.new(actor=ACTOR, schedule_id=schedule_id)
        subject = rpc_subject(SCHEDULER_SERVICE, SchedulerOps.REMOVE_SCHEDULE)
        reply = await request(
            self._broker, command, subject=subject, reply_type=RemoveScheduleReply, timeout=self._timeout_s
        )
        return reply.removed


def retry_delay_s(attempt: int, *, initial_s: float, max_s: float) -> float:
    """Exponential backoff after failed attempt `attempt` (1-based), capped, with jitter that only shortens it."""
    delay = min(max_s, initial_s * 2.0 ** min(attempt - 1, 32))
    return delay * random.uniform(0.5, 1.0)


class ScheduleRegistration:
    """Registers `plan` with the scheduler once, in a background task that outlives a scheduler not yet running.

    Upserting by schedule id makes every attempt safe to repeat, including requests the scheduler reads
    only when it starts, after this side gave up waiting for their replies.
    """

    def __init__(
        self, scheduler: SchedulerPort, plan: SchedulePlan, *, retry_initial_s: float, retry_max_s: float
    ) -> None:
        self._scheduler = scheduler
        self._plan = plan
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.registered = asyncio.Event()
        self.attempts = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._keep_trying(), name="usage-schedule-registration")

    async def stop(self) -> None:
        """Ends the retries; a registration still in flight is abandoned (the next start-up repeats it).

        Cancelling the task is not enough on its own: Python 3.11's `asyncio.wait_for`, under the request's
        reply wait, drops a cancellation that lands as the reply future completes (with a reply or with
        `ServiceUnavailable` when the reply channel is lost) and returns or raises that outcome instead. The loop
        would then sleep its backoff, up to `retry_max_s`, holding up the service's shutdown. So the loop also
        checks a stop flag after every attempt and sleeps on it, and the task is cancelled again until it ends.
        """
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RECHECK_S)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def register_once(self) -> None:
        for spec in self._plan.upserts:
            created = await self._scheduler.upsert(spec)
            log.info("schedule registered", schedule_id=spec.schedule_id, every_ms=spec.every_ms, created=created)
        for schedule_id in self._plan.removals:
            if await self._scheduler.remove(schedule_id):
                log.info("stale schedule removed", schedule_id=schedule_id)

    async def _keep_trying(self) -> None:
        while not self._stopping.is_set():
            self.attempts += 1
            try:
                await self.register_once()
            except ServiceUnavailable as error:
                failure: Exception = error
            except DomainError as error:
                # The scheduler refused the schedule itself: asking again would be refused the same way.
                log.error("schedules refused by the scheduler", code=error.code, reason=error.message)
                return
            except Exception as error:  # noqa: BLE001 - a broken connection is retried like an absent scheduler
                failure = error
            else:
                self.registered.set()
                return
            delay = retry_delay_s(self.attempts, initial_s=self._retry_initial_s, max_s=self._retry_max_s)
            log.warning(
                "scheduler did not take the schedules; retrying",
                attempt=self.attempts,
                retry_in_s=round(delay, 3),
                error=str(failure) or type(failure).__name__,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
