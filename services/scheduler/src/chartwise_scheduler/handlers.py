"""One function per command or query: the message first, the stores after; a refusal is a DomainError."""

from __future__ import annotations

from chartwise_contracts.jobs import JobState
from chartwise_contracts.scheduler import (
    FINISHED_STATES,
    CancelJob,
    CancelJobReply,
    CleanQueue,
    CleanQueueReply,
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
    JobRequest,
    ListSchedules,
    ListSchedulesReply,
    PauseQueue,
    QueueCounts,
    QueueCountsReply,
    QueueStatusReply,
    RemoveSchedule,
    RemoveScheduleReply,
    ResumeQueue,
    ScheduleSpec,
    UpsertSchedule,
    UpsertScheduleReply,
)
from chartwise_runtime.errors import InvalidInput, NotFound
from chartwise_scheduler.schedules import ScheduleStore
from chartwise_scheduler.store import JobStore


def _request_with_id(request: JobRequest, default_id: str) -> JobRequest:
    """Without a caller-chosen id the command's own id is used, so a redelivered command adds no second job."""
    if request.job_id is not None:
        return request
    return JobRequest.model_validate({**request.model_dump(), "job_id": default_id})


async def enqueue_job(command: EnqueueJob, jobs: JobStore) -> EnqueueJobReply:
    request = _request_with_id(JobRequest.model_validate(command.model_dump()), command.message_id)
    view, created = await jobs.enqueue(request, correlation_id=command.meta.correlation_id, actor=command.meta.actor)
    return command.cause(EnqueueJobReply, job=view, created=created)


async def enqueue_jobs(command: EnqueueJobs, jobs: JobStore) -> EnqueueJobsReply:
    requests = [_request_with_id(r, f"{command.message_id}-{i}") for i, r in enumerate(command.jobs)]
    ids = [r.job_id for r in requests]
    if len(set(ids)) != len(ids):
        raise InvalidInput("two jobs of one bulk enqueue have the same job_id")
    stored = await jobs.enqueue_many(requests, correlation_id=command.meta.correlation_id, actor=command.meta.actor)
    replies = [command.cause(EnqueueJobReply, job=view, created=created) for view, created in stored]
    return command.cause(EnqueueJobsReply, jobs=replies)


async def cancel_job(command: CancelJob, jobs: JobStore, *, signal_ttl_ms: int) -> CancelJobReply:
    if command.job_id is not None:
        ids = [command.job_id]
    else:
        assert command.queue is not None
        assert command.name is not None
        ids = await jobs.unfinished_ids(queue=command.queue, name=command.name)
    cancelled: list[str] = []
    signalled: list[str] = []
    for job_id in ids:
        outcome = await jobs.cancel(job_id, reason=command.reason, signal_ttl_ms=signal_ttl_ms)
        if outcome == "cancelled":
            cancelled.append(job_id)
        elif outcome == "signalled":
            signalled.append(job_id)
        elif outcome == "missing" and command.job_id is not None:
            raise NotFound(f"no job {command.job_id}")
    return command.cause(CancelJobReply, cancelled=bool(cancelled), cancelled_ids=cancelled, signalled_ids=signalled)


async def get_job(query: GetJob, jobs: JobStore) -> GetJobReply:
    view = await jobs.get(query.job_id)
    if view is None:
        raise NotFound(f"no job {query.job_id}")
    return query.cause(GetJobReply, job=view)


async def find_jobs(query: FindJobs, jobs: JobStore) -> FindJobsReply:
    found, total = await jobs.find(
        queue=query.queue, name=query.name, state=query.state, offset=query.offset, limit=query.limit
    )
    return query.cause(FindJobsReply, jobs=found, total=total, offset=query.offset, limit=query.limit)


async def queue_counts(query: QueueCounts, jobs: JobStore) -> QueueCountsReply:
    counts, paused = await jobs.counts(query.queue)
    return query.cause(QueueCountsReply, queue=query.queue, paused=paused, counts=counts)


async def pause_queue(command: PauseQueue, jobs: JobStore) -> QueueStatusReply:
    await jobs.pause(command.queue)
    return command.cause(QueueStatusReply, queue=command.queue, paused=True)


async def resume_queue(command: ResumeQueue, jobs: JobStore) -> QueueStatusReply:
    released = await jobs.resume(command.queue)
    return command.cause(QueueStatusReply, queue=command.queue, paused=False, released=released)


async def clean_queue(command: CleanQueue, jobs: JobStore) -> CleanQueueReply:
    state = JobState(command.state)
    if state not in FINISHED_STATES:
        raise InvalidInput("only finished jobs can be cleaned")
    removed = await jobs.clean(
        queue=command.queue, state=state, older_than_ms=command.older_than_ms, limit=command.limit
    )
    return command.cause(CleanQueueReply, removed_ids=removed)


async def upsert_schedule(command: UpsertSchedule, schedules: ScheduleStore) -> UpsertScheduleReply:
    spec = ScheduleSpec.model_validate(command.model_dump())
    view, created, replaced = await schedules.upsert(spec)
    return command.cause(UpsertScheduleReply, schedule=view, created=created, replaced=replaced)


async def remove_schedule(command: RemoveSchedule, schedules: ScheduleStore) -> RemoveScheduleReply:
    return command.cause(RemoveScheduleReply, removed=await schedules.remove(command.schedule_id))


async def list_schedules(query: ListSchedules, schedules: ScheduleStore) -> ListSchedulesReply:
    found, total = await schedules.list(
        queue=query.queue, offset=query.offset, limit=query.limit, id_prefix=query.id_prefix
    )
    return query.cause(ListSchedulesReply, schedules=found, total=total)


async def get_schedule(query: GetSchedule, schedules: ScheduleStore) -> GetScheduleReply:
    view = await schedules.get(query.schedule_id)
    if view is None:
        raise NotFound(f"no schedule {query.schedule_id}")
    return query.cause(GetScheduleReply, schedule=view)
