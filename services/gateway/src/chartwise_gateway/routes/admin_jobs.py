"""Admin routes over a queue's jobs: add, find, pause and resume the queue, clean finished records, cancel one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from chartwise_contracts.jobs import JobState
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    CleanQueue,
    CleanQueueReply,
    EnqueueJob,
    EnqueueJobReply,
    EnqueueJobs,
    EnqueueJobsReply,
    FindJobs,
    FindJobsReply,
    PauseQueue,
    QueueStatusReply,
    ResumeQueue,
    SchedulerOps,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_gateway.deps import AdminOnly, ClientsDep, CorrelationId
from chartwise_gateway.errors import ERROR_RESPONSES
from chartwise_gateway.job_cancel import cancel_one
from chartwise_gateway.job_models import (
    CancelIn,
    Cleaned,
    CleanIn,
    EnqueuedJob,
    EnqueuedJobs,
    JobCancellation,
    JobId,
    JobIn,
    JobList,
    QueueName,
    QueueState,
)
from chartwise_gateway.routes.jobs import FINISHED

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminOnly], responses=ERROR_RESPONSES)

ADMIN_ACTOR = "admin"
MAX_BULK = 1_000


def _scheduler(op: str) -> str:
    return rpc_subject(SCHEDULER_SERVICE, op)


def _enqueued(reply: EnqueueJobReply) -> EnqueuedJob:
    return EnqueuedJob(job=reply.job, created=reply.created)


@router.post(
    "/queues/{queue}/jobs",
    operation_id="adminEnqueueJobs",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Every job already existed"}, 201: {"description": "At least one job added"}},
)
async def enqueue_jobs(
    queue: QueueName,
    body: Annotated[JobIn | Annotated[list[JobIn], Body(min_length=1, max_length=MAX_BULK)], Body()],
    clients: ClientsDep,
    correlation_id: CorrelationId,
    response: Response,
) -> EnqueuedJob | EnqueuedJobs:
    """Adds one job (an object) or several (a list, all or none); a known `job_id` returns the job it names."""
    if isinstance(body, JobIn):
        one = EnqueueJob.new(actor=ADMIN_ACTOR, correlation_id=correlation_id, **body.request(queue).model_dump())
        reply = await clients.call(one, subject=_scheduler(SchedulerOps.ENQUEUE), reply_type=EnqueueJobReply)
        result: EnqueuedJob | EnqueuedJobs = _enqueued(reply)
        created = reply.created
    else:
        many = EnqueueJobs.new(
            actor=ADMIN_ACTOR, correlation_id=correlation_id, jobs=[job.request(queue) for job in body]
        )
        replies = await clients.call(many, subject=_scheduler(SchedulerOps.ENQUEUE_BULK), reply_type=EnqueueJobsReply)
        result = EnqueuedJobs(jobs=[_enqueued(r) for r in replies.jobs])
        created = any(r.created for r in replies.jobs)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return result


@router.get("/queues/{queue}/jobs", operation_id="adminFindJobs")
async def find_jobs(
    *,
    queue: QueueName,
    name: Annotated[str, Query(min_length=1, max_length=200)],
    clients: ClientsDep,
    correlation_id: CorrelationId,
    state: Annotated[JobState | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    """The queue's jobs of one name, newest first, optionally in one state."""
    query = FindJobs.new(
        actor=ADMIN_ACTOR,
        correlation_id=correlation_id,
        queue=queue,
        name=name,
        state=state,
        offset=offset,
        limit=limit,
    )
    reply = await clients.call(query, subject=_scheduler(SchedulerOps.FIND_JOBS), reply_type=FindJobsReply)
    return JobList(items=reply.jobs, total=reply.total, offset=reply.offset, limit=reply.limit)


@router.post("/queues/{queue}/pause", operation_id="adminPauseQueue")
async def pause_queue(queue: QueueName, clients: ClientsDep, correlation_id: CorrelationId) -> QueueState:
    """Holds the queue's due jobs (state `paused`) instead of letting workers run them."""
    command = PauseQueue.new(actor=ADMIN_ACTOR, correlation_id=correlation_id, queue=queue)
    reply = await clients.call(command, subject=_scheduler(SchedulerOps.PAUSE_QUEUE), reply_type=QueueStatusReply)
    return QueueState(queue=reply.queue, paused=reply.paused, released=reply.released)


@router.post("/queues/{queue}/resume", operation_id="adminResumeQueue")
async def resume_queue(queue: QueueName, clients: ClientsDep, correlation_id: CorrelationId) -> QueueState:
    """Lets the held jobs through (`released` counts them) and due jobs from now on."""
    command = ResumeQueue.new(actor=ADMIN_ACTOR, correlation_id=correlation_id, queue=queue)
    reply = await clients.call(command, subject=_scheduler(SchedulerOps.RESUME_QUEUE), reply_type=QueueStatusReply)
    return QueueState(queue=reply.queue, paused=reply.paused, released=reply.released)


@router.post("/queues/{queue}/clean", operation_id="adminCleanQueue")
async def clean_queue(queue: QueueName, body: CleanIn, clients: ClientsDep, correlation_id: CorrelationId) -> Cleaned:
    """Removes finished records of one state that finished at least `older_than_ms` ago."""
    command = CleanQueue.new(
        actor=ADMIN_ACTOR,
        correlation_id=correlation_id,
        queue=queue,
        state=body.state,
        older_than_ms=body.older_than_ms,
        limit=body.limit,
    )
    reply = await clients.call(command, subject=_scheduler(SchedulerOps.CLEAN_QUEUE), reply_type=CleanQueueReply)
    return Cleaned(queue=queue, removed_ids=reply.removed_ids)


@router.post("/jobs/{job_id}/cancel", operation_id="adminCancelJob", responses=FINISHED)
async def cancel_job(
    job_id: JobId,
    clients: ClientsDep,
    correlation_id: CorrelationId,
    body: Annotated[CancelIn | None, Body()] = None,
) -> JobCancellation:
    """Cancels any job by id: removed if pending, asked to stop if running; 409 once finished, 404 if unknown."""
    reason = body.reason if body is not None else ""
    return await cancel_one(
        job_id, clients=clients, actor=ADMIN_ACTOR, correlation_id=correlation_id, reason=reason or "cancelled by admin"
    )
