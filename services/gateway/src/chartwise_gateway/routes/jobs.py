"""A user's own jobs (read, cancel), and the admin's view of the queues: counts, dead letters, replays."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from chartwise_contracts import Queues
from chartwise_contracts.jobs import JobState
from chartwise_contracts.scheduler import (
    SCHEDULER_SERVICE,
    DeadLetterReplayed,
    DeadLettersPage,
    DeadLetterView,
    GetJob,
    GetJobReply,
    JobView,
    ListDeadLetters,
    QueueCounts,
    QueueCountsReply,
    ReplayDeadLetter,
    SchedulerOps,
)
from chartwise_contracts.streams import rpc_subject
from chartwise_gateway.clients import Clients
from chartwise_gateway.deps import AdminOnly, ClientsDep, CorrelationId, CurrentUser, Principal
from chartwise_gateway.errors import ERROR_RESPONSES, ErrorBody
from chartwise_gateway.job_cancel import cancel_one
from chartwise_gateway.job_models import JobCancellation, JobId, QueueName
from chartwise_runtime.errors import Conflict, NotFound

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)

FINISHED: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "The job has already finished"}}

EntryId = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^\d+-\d+$")]


class DeadLetterList(BaseModel):
    queue: str
    items: list[DeadLetterView]
    next_before: str | None = Field(description="Pass as `before` for the next (older) page; null on the last page.")


class DeadLetterRequeued(BaseModel):
    queue: str
    job_id: str
    requeued_at: AwareDatetime


class QueueStatus(BaseModel):
    queue: str
    paused: bool
    counts: dict[JobState, int]


async def _own_job(job_id: str, user: Principal, clients: Clients) -> JobView:
    query = GetJob.new(actor=user.user_id, correlation_id=user.correlation_id, job_id=job_id)
    try:
        reply = await clients.call(
            query, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.GET_JOB), reply_type=GetJobReply
        )
    except NotFound as missing:
        # The same answer as for another user's job, so the answer never tells whether an id exists.
        raise NotFound("no such job", details={"job_id": job_id}) from missing
    # Jobs carry their owner in the payload (`user_id`); a job without one belongs to no user.
    if reply.job.payload.get("user_id") != user.user_id:
        raise NotFound("no such job", details={"job_id": job_id})
    return reply.job


@router.get("/jobs/{job_id}", tags=["jobs"], operation_id="getJob")
async def get_job(job_id: JobId, user: CurrentUser, clients: ClientsDep) -> JobView:
    """One of the caller's jobs; a job of anyone else answers 404, exactly like a job that does not exist."""
    return await _own_job(job_id, user, clients)


@router.delete("/jobs/{job_id}", tags=["jobs"], operation_id="cancelJob", responses=FINISHED)
async def cancel_job(job_id: JobId, user: CurrentUser, clients: ClientsDep) -> JobCancellation:
    """Cancels one of the caller's pending or running jobs; 409 once it has finished."""
    job = await _own_job(job_id, user, clients)
    if job.queue == Queues.CHART_ANALYSIS:
        # The analysis service does not watch its jobs being cancelled: its record and the quota it reserved
        # would wait forever. Deleting the analysis cancels it and releases the reservation.
        raise Conflict(
            "this job runs an analysis; cancel it with DELETE /v1/analyses/{id}",
            details={"job_id": job_id, "analysis_id": job.payload.get("analysis_id")},
        )
    return await cancel_one(
        job_id, clients=clients, actor=user.user_id, correlation_id=user.correlation_id, reason="cancelled by its owner"
    )


@router.get("/admin/queues/{queue}", tags=["admin"], operation_id="adminQueueCounts", dependencies=[AdminOnly])
async def queue_counts(queue: QueueName, clients: ClientsDep, correlation_id: CorrelationId) -> QueueStatus:
    query = QueueCounts.new(actor="admin", correlation_id=correlation_id, queue=queue)
    reply = await clients.call(
        query, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.QUEUE_COUNTS), reply_type=QueueCountsReply
    )
    return QueueStatus(queue=reply.queue, paused=reply.paused, counts=reply.counts)


@router.get(
    "/admin/queues/{queue}/dead-letters", tags=["admin"], operation_id="adminListDeadLetters", dependencies=[AdminOnly]
)
async def list_dead_letters(
    queue: QueueName,
    clients: ClientsDep,
    correlation_id: CorrelationId,
    before: Annotated[EntryId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeadLetterList:
    """Jobs of the queue that failed for good, newest first, each with its last error and its attempts."""
    query = ListDeadLetters.new(actor="admin", correlation_id=correlation_id, queue=queue, before=before, limit=limit)
    page = await clients.call(
        query, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.LIST_DEAD_LETTERS), reply_type=DeadLettersPage
    )
    return DeadLetterList(queue=page.queue, items=page.items, next_before=page.next_before)


@router.post(
    "/admin/queues/{queue}/dead-letters/{job_id}/replay",
    tags=["admin"],
    operation_id="adminReplayDeadLetter",
    dependencies=[AdminOnly],
)
async def replay_dead_letter(
    queue: QueueName, job_id: JobId, clients: ClientsDep, correlation_id: CorrelationId
) -> DeadLetterRequeued:
    """Puts the dead job back on its queue as a fresh first attempt; 404 when the queue holds no dead letter of it."""
    command = ReplayDeadLetter.new(actor="admin", correlation_id=correlation_id, queue=queue, job_id=job_id)
    replayed = await clients.call(
        command, subject=rpc_subject(SCHEDULER_SERVICE, SchedulerOps.REPLAY_DEAD_LETTER), reply_type=DeadLetterReplayed
    )
    return DeadLetterRequeued(queue=replayed.queue, job_id=replayed.job_id, requeued_at=replayed.requeued_at)
