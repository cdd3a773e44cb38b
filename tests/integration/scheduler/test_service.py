"""The running service: request/reply operations, fire-and-forget enqueue, and job events from workers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream import TestApp
from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from chartwise_contracts import Groups, Message, Queues, Reply, Streams
from chartwise_contracts.jobs import JobState
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    CancelJob,
    CancelJobReply,
    EnqueueJob,
    EnqueueJobReply,
    FindJobs,
    FindJobsReply,
    GetJob,
    GetJobReply,
    JobTemplate,
    ListSchedules,
    ListSchedulesReply,
    QueueCounts,
    QueueCountsReply,
    SchedulerOps,
    UpsertSchedule,
    UpsertScheduleReply,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_devtools.waiting import eventually
from chartwise_runtime.errors import InvalidInput, NotFound
from chartwise_runtime.rpc import publish, request
from chartwise_scheduler.app import build_app
from chartwise_scheduler.maintenance import SWEEP_JOB_NAME
from chartwise_scheduler.settings import Settings
from tests.integration.scheduler.helpers import active, take


@pytest.fixture
async def service(redis: object, redis_url: str, mongo_url: str) -> AsyncIterator[AsgiFastStream]:
    settings = Settings(environment="development", redis_url=redis_url, mongo_url=mongo_url, consumer_name="test")
    app = build_app(settings)
    async with TestApp(app):
        yield app


def broker_of(app: AsgiFastStream) -> RedisBroker:
    broker = app.broker
    assert isinstance(broker, RedisBroker)
    return broker


async def test_enqueue_get_find_and_count_over_request_reply(service: AsgiFastStream) -> None:
    broker = broker_of(service)

    async def ask(message: Message, op: str, reply_type: type[Reply]) -> Reply:
        return await request(
            broker, message, subject=rpc_subject(SCHEDULER_SERVICE, op), reply_type=reply_type, timeout=5
        )

    enqueued = await ask(
        EnqueueJob.new(queue="q", name="n", job_id="a1", delay_ms=60_000), SchedulerOps.ENQUEUE, EnqueueJobReply
    )
    again = await ask(EnqueueJob.new(queue="q", name="n", job_id="a1"), SchedulerOps.ENQUEUE, EnqueueJobReply)
    got = await ask(GetJob.new(job_id="a1"), SchedulerOps.GET_JOB, GetJobReply)
    found = await ask(FindJobs.new(queue="q", name="n"), SchedulerOps.FIND_JOBS, FindJobsReply)
    counts = await ask(QueueCounts.new(queue="q"), SchedulerOps.QUEUE_COUNTS, QueueCountsReply)
    cancelled = await ask(CancelJob.new(job_id="a1"), SchedulerOps.CANCEL, CancelJobReply)

    assert isinstance(enqueued, EnqueueJobReply)
    assert enqueued.created
    assert enqueued.job.state is JobState.DELAYED
    assert isinstance(again, EnqueueJobReply)
    assert not again.created
    assert isinstance(got, GetJobReply)
    assert got.job.job_id == "a1"
    assert isinstance(found, FindJobsReply)
    assert found.total == 1
    assert isinstance(counts, QueueCountsReply)
    assert counts.counts[JobState.DELAYED] == 1
    assert isinstance(cancelled, CancelJobReply)
    assert cancelled.cancelled
    assert cancelled.cancelled_ids == ["a1"]
    with pytest.raises(NotFound):
        await ask(GetJob.new(job_id="missing"), SchedulerOps.GET_JOB, GetJobReply)


async def test_schedules_over_request_reply_refuse_a_bad_pattern(service: AsgiFastStream) -> None:
    broker = broker_of(service)
    upsert = rpc_subject(SCHEDULER_SERVICE, SchedulerOps.UPSERT_SCHEDULE)
    template = JobTemplate(name="digest")

    reply = await request(
        broker,
        UpsertSchedule.new(schedule_id="digest", queue="mail", cron="0 8 * * 1", tz="Europe/Paris", template=template),
        subject=upsert,
        reply_type=UpsertScheduleReply,
        timeout=5,
    )
    with pytest.raises(InvalidInput):
        await request(
            broker,
            UpsertSchedule.new(schedule_id="bad", queue="mail", cron="61 * * * *", template=template),
            subject=upsert,
            reply_type=UpsertScheduleReply,
            timeout=5,
        )
    listed = await request(
        broker,
        ListSchedules.new(queue="mail"),
        subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.LIST_SCHEDULES),
        reply_type=ListSchedulesReply,
        timeout=5,
    )

    assert reply.created
    assert reply.schedule.next_run_at is not None
    assert [s.schedule_id for s in listed.schedules] == ["digest"]


async def test_enqueue_command_and_worker_events_update_the_record(service: AsgiFastStream, text_redis: Redis) -> None:
    broker = broker_of(service)
    command = EnqueueJob.new(queue="q", name="n", job_id="c1")
    await publish(broker, command, stream=Streams.SCHEDULER_COMMANDS.name, maxlen=Streams.SCHEDULER_COMMANDS.maxlen)
    await publish(broker, command, stream=Streams.SCHEDULER_COMMANDS.name, maxlen=Streams.SCHEDULER_COMMANDS.maxlen)

    redis = text_redis
    [job] = await eventually(lambda: take(redis, "q"))
    await publish(broker, active(job), stream=Streams.JOB_EVENTS.name, maxlen=Streams.JOB_EVENTS.maxlen)

    async def is_active() -> bool:
        reply = await request(
            broker,
            GetJob.new(job_id="c1"),
            subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.GET_JOB),
            reply_type=GetJobReply,
            timeout=5,
        )
        return reply.job.state is JobState.ACTIVE

    assert await eventually(is_active)
    assert await take(redis, "q") == []  # the second, identical command added nothing


async def test_expired_record_sweep_runs_as_a_job_on_the_maintenance_queue(service: AsgiFastStream) -> None:
    broker = broker_of(service)

    async def sweep_completed() -> bool:
        reply = await request(
            broker,
            FindJobs.new(queue=Queues.SCHEDULER_MAINTENANCE, name=SWEEP_JOB_NAME, state=JobState.COMPLETED),
            subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.FIND_JOBS),
            reply_type=FindJobsReply,
            timeout=5,
        )
        return reply.total >= 1 and reply.jobs[0].result == {"removed": 0}

    assert await eventually(sweep_completed, timeout=10)


async def test_an_unreadable_job_event_does_not_hold_back_the_good_ones_of_its_batch(
    service: AsgiFastStream, text_redis: Redis
) -> None:
    broker = broker_of(service)
    await publish(
        broker, EnqueueJob.new(queue="q", name="n", job_id="b1"), stream=Streams.SCHEDULER_COMMANDS.name, maxlen=100
    )
    [job] = await eventually(lambda: take(text_redis, "q"))

    # One transaction, so the scheduler reads the bad entry and the good one in the same batch.
    client = await broker.connect()
    async with client.pipeline(transaction=True) as pipe:
        await broker.publish(["not", "an", "event"], stream=Streams.JOB_EVENTS.name, pipeline=pipe)
        await broker.publish(active(job), stream=Streams.JOB_EVENTS.name, pipeline=pipe)
        await pipe.execute()

    async def is_active() -> bool:
        reply = await request(
            broker,
            GetJob.new(job_id="b1"),
            subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.GET_JOB),
            reply_type=GetJobReply,
            timeout=5,
        )
        return reply.job.state is JobState.ACTIVE

    async def nothing_pending() -> bool:
        return bool((await text_redis.xpending(Streams.JOB_EVENTS.name, Groups.SCHEDULER))["pending"] == 0)

    assert await eventually(is_active)
    assert await eventually(nothing_pending)
