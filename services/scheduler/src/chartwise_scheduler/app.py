"""Composition root of the scheduler service: builds its clients and wires its handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker, StreamSub
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from chartwise_contracts import Groups, Queues, Reply, Streams
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    CancelJob,
    CancelJobReply,
    CleanQueue,
    CleanQueueReply,
    DeadLetterReplayed,
    DeadLettersPage,
    EnqueueJob,
    EnqueueJobReply,
    EnqueueJobs,
    EnqueueJobsReply,
    FindJobs,
    FindJobsReply,
    GetJob,
    GetJobReply,
    GetSchedule,
    GetScheduleReply,
    ListDeadLetters,
    ListSchedules,
    ListSchedulesReply,
    PauseQueue,
    QueueCounts,
    QueueCountsReply,
    QueueStatusReply,
    RemoveSchedule,
    RemoveScheduleReply,
    ReplayDeadLetter,
    ResumeQueue,
    SchedulerOps,
    UpsertSchedule,
    UpsertScheduleReply,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_runtime.broker import reclaim_sub, reliable_subscriber
from chartwise_runtime.errors import DomainError
from chartwise_runtime.logging import get_logger
from chartwise_runtime.rpc import replies_with_errors, serves_requests
from chartwise_runtime.service import ServiceRuntime
from chartwise_runtime.worker import JobContext, Worker
from chartwise_scheduler import dead_letters, handlers
from chartwise_scheduler.clock import Clock, SystemClock
from chartwise_scheduler.events import apply_job_events, parse_batch
from chartwise_scheduler.maintenance import SweepPayload, sweep_expired, sweep_schedule
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.settings import Settings
from chartwise_scheduler.store import JobStore
from chartwise_scheduler.timer import Timer

log = get_logger(__name__)

RECLAIM_IDLE_MS = 30_000
"""How long an event or command may stay pending before another consumer applies it again."""


@dataclass
class Components:
    """What the handlers use; built when the service starts, not when the app is built."""

    redis: Redis
    raw_redis: Redis
    """Answers bytes, as the worker kit's dead-letter streams are read."""
    jobs: JobStore
    schedules: ScheduleStore
    timer: Timer
    sweeper: Worker[SweepPayload]


class Scheduler:
    """Owns the scheduler's Redis client, stores and timer for the life of the process."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._components: Components | None = None

    @property
    def components(self) -> Components:
        if self._components is None:
            raise RuntimeError("the scheduler has not started")
        return self._components

    async def start(self) -> None:
        redis: Redis = Redis.from_url(self._settings.redis_url, decode_responses=True)
        raw_redis: Redis = Redis.from_url(self._settings.redis_url, decode_responses=False)
        await ensure_groups(redis)
        jobs = JobStore(redis, self._clock)
        schedules = ScheduleStore(redis, self._clock, jobs.scripts, jobs.keys)
        timer = Timer(jobs, schedules, self._clock, release_batch=self._settings.release_batch)

        async def run_sweep(payload: SweepPayload, context: JobContext) -> dict[str, int]:
            return await sweep_expired(context.job, jobs)

        sweeper = Worker(
            Queues.SCHEDULER_MAINTENANCE,
            run_sweep,
            payload_type=SweepPayload,
            redis_url=self._settings.redis_url,
            consumer=self._settings.consumer_name,
        )
        self._components = Components(
            redis=redis, raw_redis=raw_redis, jobs=jobs, schedules=schedules, timer=timer, sweeper=sweeper
        )
        await schedules.upsert(sweep_schedule(every_ms=self._settings.sweep_every_ms))
        await timer.start(redis)
        await sweeper.start()
        log.info("scheduler started")

    async def stop(self) -> None:
        if self._components is None:
            return
        await self._components.timer.stop()
        await self._components.sweeper.stop()
        await self._components.redis.aclose()
        await self._components.raw_redis.aclose()
        self._components = None

    async def ping(self) -> None:
        await self.components.redis.ping()


async def ensure_groups(redis: Redis) -> None:
    """Creates the scheduler's consumer groups from the start of their streams before anything can publish.

    A group created later from `$` (as a subscriber does by default) would never see events written before it,
    such as those of the first sweep, which runs before the broker's subscribers start.
    """
    for stream in (Streams.JOB_EVENTS.name, Streams.SCHEDULER_COMMANDS.name):
        try:
            await redis.xgroup_create(stream, Groups.SCHEDULER, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise


def register_handlers(broker: RedisBroker, scheduler: Scheduler, settings: Settings) -> None:
    def serve_rpc(op: str, handler: Callable[..., Awaitable[Reply]]) -> None:
        subject = rpc_subject(SCHEDULER_SERVICE, op)
        serves_requests(broker, subject, group=Groups.SCHEDULER, consumer=settings.consumer_name)(
            replies_with_errors(handler)
        )

    signal_ttl_ms = settings.cancel_signal_ttl_s * 1000

    async def on_enqueue(command: EnqueueJob) -> EnqueueJobReply:
        return await handlers.enqueue_job(command, scheduler.components.jobs)

    async def on_enqueue_bulk(command: EnqueueJobs) -> EnqueueJobsReply:
        return await handlers.enqueue_jobs(command, scheduler.components.jobs)

    async def on_cancel(command: CancelJob) -> CancelJobReply:
        return await handlers.cancel_job(command, scheduler.components.jobs, signal_ttl_ms=signal_ttl_ms)

    async def on_get_job(query: GetJob) -> GetJobReply:
        return await handlers.get_job(query, scheduler.components.jobs)

    async def on_find_jobs(query: FindJobs) -> FindJobsReply:
        return await handlers.find_jobs(query, scheduler.components.jobs)

    async def on_queue_counts(query: QueueCounts) -> QueueCountsReply:
        return await handlers.queue_counts(query, scheduler.components.jobs)

    async def on_pause_queue(command: PauseQueue) -> QueueStatusReply:
        return await handlers.pause_queue(command, scheduler.components.jobs)

    async def on_resume_queue(command: ResumeQueue) -> QueueStatusReply:
        return await handlers.resume_queue(command, scheduler.components.jobs)

    async def on_clean_queue(command: CleanQueue) -> CleanQueueReply:
        return await handlers.clean_queue(command, scheduler.components.jobs)

    async def on_upsert_schedule(command: UpsertSchedule) -> UpsertScheduleReply:
        return await handlers.upsert_schedule(command, scheduler.components.schedules)

    async def on_remove_schedule(command: RemoveSchedule) -> RemoveScheduleReply:
        return await handlers.remove_schedule(command, scheduler.components.schedules)

    async def on_list_schedules(query: ListSchedules) -> ListSchedulesReply:
        return await handlers.list_schedules(query, scheduler.components.schedules)

    async def on_get_schedule(query: GetSchedule) -> GetScheduleReply:
        return await handlers.get_schedule(query, scheduler.components.schedules)

    async def on_list_dead_letters(query: ListDeadLetters) -> DeadLettersPage:
        return await dead_letters.list_dead_letters(query, scheduler.components.raw_redis)

    async def on_replay_dead_letter(command: ReplayDeadLetter) -> DeadLetterReplayed:
        components = scheduler.components
        return await dead_letters.replay_dead_letter(command, components.raw_redis, components.jobs)

    for op, handler in (
        (SchedulerOps.ENQUEUE, on_enqueue),
        (SchedulerOps.ENQUEUE_BULK, on_enqueue_bulk),
        (SchedulerOps.CANCEL, on_cancel),
        (SchedulerOps.GET_JOB, on_get_job),
        (SchedulerOps.FIND_JOBS, on_find_jobs),
        (SchedulerOps.QUEUE_COUNTS, on_queue_counts),
        (SchedulerOps.PAUSE_QUEUE, on_pause_queue),
        (SchedulerOps.RESUME_QUEUE, on_resume_queue),
        (SchedulerOps.CLEAN_QUEUE, on_clean_queue),
        (SchedulerOps.UPSERT_SCHEDULE, on_upsert_schedule),
        (SchedulerOps.REMOVE_SCHEDULE, on_remove_schedule),
        (SchedulerOps.LIST_SCHEDULES, on_list_schedules),
        (SchedulerOps.GET_SCHEDULE, on_get_schedule),
        (SchedulerOps.LIST_DEAD_LETTERS, on_list_dead_letters),
        (SchedulerOps.REPLAY_DEAD_LETTER, on_replay_dead_letter),
    ):
        serve_rpc(op, handler)

    @reliable_subscriber(broker, Streams.SCHEDULER_COMMANDS, group=Groups.SCHEDULER, consumer=settings.consumer_name)
    async def on_enqueue_command(command: EnqueueJob) -> None:
        """Fire-and-forget enqueue from other services; a refused command is logged, not retried forever."""
        try:
            await handlers.enqueue_job(command, scheduler.components.jobs)
        except DomainError as error:
            log.error("enqueue command refused", code=error.code, reason=error.message, details=error.details)

    @broker.subscriber(
        stream=StreamSub(
            Streams.JOB_EVENTS.name,
            group=Groups.SCHEDULER,
            consumer=settings.consumer_name,
            batch=True,
            max_records=settings.event_batch,
        )
    )
    async def on_job_events(bodies: list[Any]) -> None:
        """Job events from workers, applied in order in one round trip; the batch is acked once applied."""
        await apply_job_events(parse_batch(bodies), scheduler.components.jobs)

    @broker.subscriber(
        stream=reclaim_sub(
            Streams.JOB_EVENTS, group=Groups.SCHEDULER, consumer=settings.consumer_name, idle_ms=RECLAIM_IDLE_MS
        )
    )
    async def on_stalled_job_event(body: Any) -> None:
        """An event whose batch failed or whose replica died, applied again; applying is idempotent."""
        await apply_job_events(parse_batch([body]), scheduler.components.jobs)


def build_app(settings: Settings, *, clock: Clock | None = None) -> AsgiFastStream:
    runtime = ServiceRuntime.create(settings)
    scheduler = Scheduler(settings, clock or SystemClock())
    register_handlers(runtime.broker, scheduler, settings)
    return runtime.app(
        description="Owns job records and time: delayed, recurring and retained jobs.",
        on_startup=[scheduler.start],
        on_shutdown=[scheduler.stop],
        readiness={"scheduler": scheduler.ping},
    )
